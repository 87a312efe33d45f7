import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { CLI } from "../support/call.js";
import { type ToolResult, tool } from "./tool.js";

/** Where deployments put secrets: a path under one of these must be handed in by the deployment. */
export const SECRET_DIRS = ["/run/secrets/", "/run/credentials/", "/etc/probe112/secrets/"];

/** The outcome of checking a configuration as a deployment hands it over. */
export interface DeployedCheck extends ToolResult {
  /** Secret paths the configuration names that the deployment does not provide. */
  readonly unprovided: string[];
}

/**
 * Runs `probe112 config check` (secrets included) on a configuration as its deployment sees it:
 * every secret reference and every file under a secret directory must be something `provide`
 * maps to a file on this machine, and the copy checked refers to those files.
 */
export async function checkDeployedConfig(
  text: string,
  provide: (path: string) => string | undefined,
): Promise<DeployedCheck> {
  const unprovided: string[] = [];
  const map = (p: string): string => {
    const host = provide(p);
    if (host === undefined) unprovided.push(p);
    return host ?? p;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      // A secret reference: { file: PATH }.
      if (Object.keys(o).length === 1 && typeof o.file === "string") return { file: map(o.file) };
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    if (typeof v === "string" && SECRET_DIRS.some((d) => v.startsWith(d))) return map(v);
    return v;
  };
  const dir = mkdtempSync(join(tmpdir(), "p112-config-"));
  try {
    const file = join(dir, "config.yaml");
    writeFileSync(file, stringify(walk(parse(text))));
    const r = await tool(process.execPath, [CLI, "config", "check", file]);
    return { ...r, unprovided };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
