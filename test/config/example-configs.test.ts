import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/call.js";

// The example configurations are what operators copy: `probe112 config check` must accept them
// once their secrets exist. The secrets live under /run/secrets in the examples; here they are
// moved to a temporary directory so the check reads real files.

const root = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "p112-examples-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withSecrets(example: string): string {
  const text = readFileSync(join(root, "config", example), "utf8");
  for (const m of text.matchAll(/\/run\/secrets\/([\w.-]+)/g))
    writeFileSync(join(dir, m[1]!), "s3cret-value\n");
  const file = join(dir, example);
  writeFileSync(file, text.replaceAll("/run/secrets/", `${dir}/`));
  return file;
}

describe("config/*.example.yaml", () => {
  for (const example of ["agent.example.yaml", "responder.example.yaml"]) {
    it(`${example} passes probe112 config check with its secrets in place`, async () => {
      const r = await runCli(["config", "check", withSecrets(example)], {
        env: { ...process.env, PROBE112_SWEEP_TOKEN: "sweep-token" },
      });
      expect(r.code, r.stdout + r.stderr).toBe(0);
    });
  }

  it("without its secrets, the agent example is refused naming each missing one (exit 2)", async () => {
    const r = await runCli(["config", "check", join(root, "config/agent.example.yaml")], {
      env: { ...process.env, PROBE112_SWEEP_TOKEN: "" },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/agent\.tokenSecret: cannot read secret file \/run\/secrets\/probe112-token/);
    expect(r.stderr).toMatch(/agent\.http\.sweepToken: environment variable PROBE112_SWEEP_TOKEN/);
  });
});
