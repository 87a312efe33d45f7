import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkDeployedConfig } from "./config-check.js";
import { DEPLOY } from "./deploy-files.js";
import { tool } from "./tool.js";

// The systemd units as systemd itself judges them (systemd-analyze verify, and its offline
// security review), and the example configurations they run with: every secret they name is a
// credential the unit loads, and the journal goes to the unit's state directory.

const DIR = join(DEPLOY, "systemd");
const UNITS = [
  { unit: "probe112-agent.service", config: "agent.yaml", role: "agent" },
  { unit: "probe112-responder.service", config: "responder.yaml", role: "responder" },
];
const scratch = mkdtempSync(join(tmpdir(), "p112-systemd-"));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every `Key=value` of a unit file's [Service] section, in order. */
function serviceSettings(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let section = "";
  for (const line of text.split("\n")) {
    const s = /^\[(.+)\]$/.exec(line.trim());
    if (s) section = s[1]!;
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv && section === "Service") out.push([kv[1]!, kv[2]!]);
  }
  return out;
}

describe.each(UNITS)("$unit", ({ unit, config, role }) => {
  const file = join(DIR, unit);
  const text = readFileSync(file, "utf8");
  const settings = serviceSettings(text);
  const get = (k: string) => settings.filter(([key]) => key === k).map(([, v]) => v);

  it("systemd-analyze verify finds nothing to say", async () => {
    const r = await tool("systemd-analyze", ["verify", "--man=no", file]);
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });

  it("systemd-analyze verify complains about a misspelt setting, so the check above can fail", async () => {
    const broken = join(scratch, unit);
    writeFileSync(broken, text.replace("ProtectSystem=strict", "ProtectSystm=strict"));
    const r = await tool("systemd-analyze", ["verify", "--man=no", broken]);
    expect(r.output).toMatch(/Unknown key 'ProtectSystm'/);
  });

  it("is hardened: systemd's own review rates its exposure at 2.0 or less", async () => {
    const r = await tool("systemd-analyze", ["security", "--offline=yes", "--threshold=20", file]);
    expect(r.code, r.output.split("\n").slice(-3).join("\n")).toBe(0);
    for (const [k, v] of [
      ["DynamicUser", "yes"],
      ["ProtectSystem", "strict"],
      ["NoNewPrivileges", "yes"],
      ["ProtectHome", "yes"],
      ["CapabilityBoundingSet", ""],
    ])
      expect(get(k!), k).toEqual([v]);
  });

  it("runs the example configuration with the credentials it loads, journalling into its state directory", async () => {
    const exec = get("ExecStart")[0]!;
    expect(exec).toMatch(new RegExp(` ${role} --config /etc/probe112/${config}( |$)`));
    expect(get("ExecStartPre")[0]).toContain(`config check /etc/probe112/${config}`);
    const creds = new Map(get("LoadCredential").map((v) => v.split(":") as [string, string]));
    const credDir = `/run/credentials/${unit}/`;
    const loaded = new Set<string>();
    const configText = readFileSync(join(DIR, config), "utf8");
    const r = await checkDeployedConfig(configText, (p) => {
      if (!p.startsWith(credDir) || !creds.has(p.slice(credDir.length))) return undefined;
      loaded.add(p.slice(credDir.length));
      const f = join(scratch, `${role}-${p.slice(credDir.length)}`);
      writeFileSync(f, "an-example-credential\n");
      return f;
    });
    expect(r.unprovided, "secrets the unit does not load").toEqual([]);
    expect(r.code, r.output).toBe(0);
    expect([...loaded].sort(), "every credential loaded is used").toEqual([...creds.keys()].sort());
    const c = parse(configText) as { agent?: { journalDir: string }; responder?: { journalDir: string } };
    expect((c.agent ?? c.responder)!.journalDir).toBe(`/var/lib/${get("StateDirectory")[0]}`);
  });
});
