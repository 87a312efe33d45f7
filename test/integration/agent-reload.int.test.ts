import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentConfigData,
  type AgentRun,
  agentConfig,
  agentLogTail,
  eventually,
  startAgent,
  writeSecret,
} from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ResponderRun, startResponder } from "../support/responder.js";

// SIGHUP as an operator uses it: the configuration file is replaced and the agent told to read
// it. A good file takes effect without a restart; a bad one is refused and the agent carries on
// with what it had, saying why in its log and in probe112_config_last_reload_successful.

const ip = uniqueLoopback();
let responder: ResponderRun;
let agent: AgentRun;
let dir: string;
let sipPort: number;
let deadPort: number;
let httpPort: number;

/** path-a calls the answering point and a port nobody listens on; `extra` adds to the base. */
function config(o: { paths?: string[]; agent?: Record<string, unknown> } = {}): AgentConfigData {
  const paths = o.paths ?? ["path-a"];
  return agentConfig({
    ip,
    httpPort,
    agent: { tokenSecret: writeSecret(dir, "token-secret", "s3cr3t-token-key"), number: 42, ...o.agent },
    paths: Object.fromEntries(paths.map((p) => [p, {}])),
    destinations: {
      "test-112": `sip:112@${ip}:${sipPort}`,
      dead: { uri: `sip:112@${ip}:${deadPort}`, role: "other" },
    },
    check: { interval: 3, timeout: 2, hold: 0.2, media: "none", confirmAfter: 0.5 },
  });
}

const logged = (msg: string) => agent.logLines().filter((l) => l.msg === msg);

/** Replaces the configuration with `next` and waits until the agent has logged its verdict. */
async function reload(next: AgentConfigData | string): Promise<"reloaded" | "refused"> {
  const before = { ok: logged("configuration reloaded").length, refused: refusals().length };
  agent.reload(next);
  return eventually(
    () =>
      logged("configuration reloaded").length > before.ok
        ? "reloaded"
        : refusals().length > before.refused
          ? "refused"
          : undefined,
    5000,
    () => `the agent to log the outcome of SIGHUP; log:\n${agentLogTail(agent)}`,
    50,
  );
}

const refusals = () => logged("new configuration refused; the old one keeps running");

const checkInfo = async () =>
  (await agent.scrape())
    .split("\n")
    .filter((l) => l.startsWith("probe112_check_info{"))
    .map((l) => /check="([^"]+)"/.exec(l)![1]!)
    .sort();

/** Waits until `check` has `n` more journaled results than it has now. */
async function moreResults(check: string, n: number, timeoutMs = 15_000): Promise<void> {
  const count = () => agent.journal().filter((r) => r.check === check).length;
  const start = count();
  await eventually(() => count() >= start + n, timeoutMs, `${n} more results of ${check}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "p112-agent-"));
  sipPort = await freePort("udp", ip);
  deadPort = await freePort("udp", ip);
  httpPort = await freePort("tcp", ip);
  responder = await startResponder({
    args: ["--listen", `udp:${ip}:${sipPort}`, "--allow", `${ip}/32`, "--per-caller-per-minute", "600"],
  });
  agent = await startAgent({ dir, config: config() });
  expect(await agent.metric("probe112_config_last_reload_successful")).toBe(1);
});

afterAll(async () => {
  const exit = await agent?.stop();
  await responder?.stop();
  expect(exit?.code).toBe(0);
});

describe("SIGHUP with a good configuration", () => {
  it("adds the new check: it appears in probe112_check_info and runs, while the old ones go on", async () => {
    expect(await checkInfo()).toEqual(["path-a.dead", "path-a.test-112"]);
    const reloadedAt = Date.now() / 1000;
    expect(await reload(config({ paths: ["path-a", "path-b"] }))).toBe("reloaded");
    expect(await checkInfo()).toEqual(["path-a.dead", "path-a.test-112", "path-b.dead", "path-b.test-112"]);
    expect(await agent.metric("probe112_config_last_reload_successful")).toBe(1);
    expect(await agent.metric("probe112_config_last_reload_success_timestamp_seconds")).toBeGreaterThan(
      reloadedAt - 1,
    );
    await eventually(
      () => agent.journal().find((r) => r.check === "path-b.test-112" && r.success),
      15_000,
      () => `a successful call of the new check path-b.test-112; log:\n${agentLogTail(agent)}`,
    );
    await moreResults("path-a.test-112", 1);
  });

  it("keeps a check that is down down: probe112_check_up stays 0 until the check succeeds", async () => {
    await eventually(
      async () => (await agent.metric("probe112_check_up", { check: "path-a.dead" })) === 0,
      25_000,
      () => `path-a.dead to be confirmed down; log:\n${agentLogTail(agent)}`,
    );
    // The status page reads the scheduler's state; the metric must agree with it after a reload.
    expect(await reload(config({ paths: ["path-a", "path-b"], agent: { maxCallsPerMinute: 100 } }))).toBe(
      "reloaded",
    );
    expect(await agent.metric("probe112_check_up", { check: "path-a.dead" })).toBe(0);
    const page = await fetch(`${agent.url}/`).then((r) => r.text());
    expect(page).toMatch(/<tr class="down" id="check-path-a\.dead">/);
    await moreResults("path-a.dead", 1, 20_000);
    expect(await agent.metric("probe112_check_up", { check: "path-a.dead" })).toBe(0);
  });

  it("drops a check that is no longer configured: it stops running and its state series go away", async () => {
    expect(await reload(config({ paths: ["path-a", "path-b"] }))).toBe("reloaded");
    await moreResults("path-b.test-112", 1);
    const reloadedAt = new Date().toISOString();
    expect(await reload(config({ paths: ["path-a"] }))).toBe("reloaded");
    expect(await checkInfo()).toEqual(["path-a.dead", "path-a.test-112"]);
    // A stale probe112_check_up 0 of a removed check would page someone for a check that no longer exists.
    const text = await agent.scrape();
    const stale = text
      .split("\n")
      .filter((l) => /^probe112_(check_up|probe_success|check_last_run_timestamp_seconds)\{/.test(l))
      .filter((l) => l.includes('check="path-b.'));
    expect(stale).toEqual([]);
    await moreResults("path-a.test-112", 2);
    const late = agent.journal().filter((r) => r.path === "path-b" && String(r.startedAt) > reloadedAt);
    expect(late).toEqual([]);
  });
});

describe("SIGHUP with a bad configuration", () => {
  it("refuses an unknown key: the old checks keep running, the log names the key, reload_successful 0", async () => {
    expect(await reload(config({ paths: ["path-a", "path-b"] }))).toBe("reloaded");
    const bad = config({ paths: ["path-a"] });
    (bad.checks as Array<Record<string, unknown>>)[0]!.intervall = 5;
    expect(await reload(bad)).toBe("refused");
    expect(String(refusals().at(-1)?.problems)).toMatch(/checks\[0\]: unknown key "intervall"/);
    expect(await agent.metric("probe112_config_last_reload_successful")).toBe(0);
    expect(await checkInfo()).toEqual(["path-a.dead", "path-a.test-112", "path-b.dead", "path-b.test-112"]);
    await moreResults("path-b.test-112", 1);
    expect(agent.process.running()).toBe(true);
  });

  it("refuses YAML that does not parse, naming line and column", async () => {
    expect(await reload("agent: { id: [unclosed\n")).toBe("refused");
    expect(String(refusals().at(-1)?.problems)).toMatch(/line \d+, column \d+: not valid YAML/);
    expect(await agent.metric("probe112_config_last_reload_successful")).toBe(0);
  });

  it("refuses a configuration whose secret file is missing, naming the setting and the file", async () => {
    expect(await reload(config({ paths: ["path-a", "path-b"] }))).toBe("reloaded");
    expect(await agent.metric("probe112_config_last_reload_successful")).toBe(1);
    const missing = join(dir, "no-such-secret");
    expect(await reload(config({ paths: ["path-a"], agent: { tokenSecret: { file: missing } } }))).toBe(
      "refused",
    );
    const why = String(refusals().at(-1)?.problems);
    expect(why).toContain("agent.tokenSecret");
    expect(why).toContain(missing);
    expect(await agent.metric("probe112_config_last_reload_successful")).toBe(0);
    expect(await checkInfo()).toEqual(["path-a.dead", "path-a.test-112", "path-b.dead", "path-b.test-112"]);
    await moreResults("path-b.test-112", 1);
  });
});
