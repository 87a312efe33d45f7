import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AgentConfigData,
  type AgentJournalRecord,
  type AgentRun,
  agentConfig,
  agentJournalFiles,
  agentLogTail,
  eventually,
  readAgentJournal,
  startAgent,
} from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { metricValue, type ResponderRun, startResponder } from "../support/responder.js";

// What the agent leaves behind when it is stopped: killed outright (the journal must hold whole
// lines only, and everything it had reported), or asked to stop (calls in progress end the way
// SIP says a caller ends them, and the process exits 0).

const ip = uniqueLoopback();
const responders: ResponderRun[] = [];
const agents: AgentRun[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop("SIGKILL", 1000);
  for (const r of responders.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function responder(extra: string[]): Promise<{ run: ResponderRun; port: number }> {
  const port = await freePort("udp", ip);
  const run = await startResponder({
    args: [
      ...["--listen", `udp:${ip}:${port}`, "--allow", `${ip}/32`, "--per-caller-per-minute", "600"],
      ...["--metrics", `${ip}:${await freePort("tcp", ip)}`, ...extra],
    ],
    journal: true,
  });
  responders.push(run);
  return { run, port };
}

/** Calls the responder has taken and not yet finished. */
const inProgress = async (r: ResponderRun) =>
  metricValue(await r.scrape(), "probe112_responder_concurrent_tests") ?? 0;

async function agent(config: AgentConfigData, dir?: string): Promise<AgentRun> {
  const run = await startAgent({ config, ...(dir ? { dir, keepDir: true } : {}) });
  agents.push(run);
  return run;
}

describe("SIGKILL in the middle of calls", () => {
  it("leaves whole journal lines only, at least every result the agent had reported, and a restart appends to the same day file", async () => {
    const { run: resp, port } = await responder(["--hold", "5"]);
    const dir = mkdtempSync(join(tmpdir(), "p112-agent-"));
    dirs.push(dir);
    const paths = ["path-a", "path-b", "path-c"];
    const config = agentConfig({
      ip,
      httpPort: await freePort("tcp", ip),
      agent: { maxCallsPerMinute: 600 },
      paths: Object.fromEntries(paths.map((p) => [p, {}])),
      destinations: {
        "test-112": `sip:112@${ip}:${port}`,
        "test-112-phone": { uri: `sip:112@${ip}:${port};user=phone`, role: "other" },
      },
      check: { interval: 2, timeout: 5, hold: 1, media: "loopback" },
    });
    const checks = paths.length * 2;
    const first = await agent(config, dir);
    await eventually(
      () => readAgentJournal(first.journalDir).length >= 2 * checks,
      30_000,
      () => `${2 * checks} journaled results; agent log:\n${agentLogTail(first)}`,
    );
    // Kill while the answering point holds calls of ours, right after reading what was reported.
    await eventually(async () => (await inProgress(resp)) >= 2, 10_000, "two calls in progress", 20);
    const reported = await first.metricSum("probe112_call_attempts_total");
    process.kill(first.pid, "SIGKILL");
    expect((await first.process.exited).signal).toBe("SIGKILL");

    const files = agentJournalFiles(first.journalDir);
    expect(files).toHaveLength(1);
    const text = readFileSync(files[0]!, "utf8");
    expect(text.endsWith("\n"), "no partial last line").toBe(true);
    const records = readAgentJournal(first.journalDir);
    expect(records.every((r) => r.type === "result")).toBe(true);
    expect(new Set(records.map((r) => r.id)).size, "no record twice").toBe(records.length);
    // Journal first, metrics after: nothing reported is missing; at most the calls that ended
    // between the scrape and the kill (one per check) are journaled but were not yet reported.
    expect(records.length).toBeGreaterThanOrEqual(reported);
    expect(records.length).toBeLessThanOrEqual(reported + checks);

    const second = await agent(config, dir);
    await eventually(
      () => readAgentJournal(second.journalDir).length >= records.length + checks,
      30_000,
      () => `${checks} more results after the restart; agent log:\n${agentLogTail(second)}`,
    );
    expect((await second.stop()).code).toBe(0);
    // The same daily file, appended to (a second one only if the run crossed midnight UTC).
    expect(agentJournalFiles(second.journalDir)).toContain(files[0]);
    const again = readAgentJournal(second.journalDir);
    expect(again.slice(0, records.length), "the old lines are untouched").toEqual(records);
    expect(again.length).toBeGreaterThanOrEqual(records.length + checks);
  }, 90_000);
});

describe("SIGTERM in the middle of a call", () => {
  /** The agent's journal after the call that was ringing when it was stopped. */
  let ringingJournal: AgentJournalRecord[] = [];

  /** One check with a 20 s hold, against an answering point that holds 60 s. */
  async function longCall(port: number): Promise<AgentConfigData> {
    return agentConfig({
      ip,
      httpPort: await freePort("tcp", ip),
      paths: { "path-a": {} },
      destinations: { "test-112": `sip:112@${ip}:${port}` },
      check: { interval: 5, timeout: 40, ringTimeout: 30, hold: 20, media: "loopback" },
    });
  }

  it("answered: the agent hangs up with BYE, exits 0 within a few seconds, the answering point saw the caller end it", async () => {
    const { run: resp, port } = await responder(["--hold", "60"]);
    const a = await agent(await longCall(port));
    await eventually(async () => (await inProgress(resp)) === 1, 15_000, "the call to be taken", 50);
    // Media flows for a moment first, so the call is surely established.
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    a.signal("SIGTERM");
    const exit = await a.process.exited;
    const took = (Date.now() - t0) / 1000;
    expect(exit.code, agentLogTail(a)).toBe(0);
    expect(took).toBeLessThan(5);
    const rec = await resp.waitForJournal((j) => j.type === "test_call", 5000);
    expect(rec).toMatchObject({ outcome: "completed", endedBy: "remote" });
    expect(await inProgress(resp)).toBe(0);
    const msgs = a.logLines().map((l) => l.msg);
    expect(msgs).toContain("stopping: ending calls in progress");
  }, 60_000);

  it("ringing: the agent CANCELs, exits 0 within a few seconds, the answering point saw the call cancelled", async () => {
    const { run: resp, port } = await responder(["--ring-ms", "8000", "--hold", "60"]);
    const a = await agent(await longCall(port));
    await eventually(async () => (await inProgress(resp)) === 1, 15_000, "the call to ring", 50);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    a.signal("SIGTERM");
    const exit = await a.process.exited;
    const took = (Date.now() - t0) / 1000;
    expect(exit.code, agentLogTail(a)).toBe(0);
    expect(took).toBeLessThan(5);
    // The answering point finishes its ring before it looks at the CANCEL it got.
    const rec = await resp.waitForJournal((j) => j.type === "test_call", 12_000);
    expect(rec).toMatchObject({ outcome: "cancelled" });
    ringingJournal = a.journal();
  }, 60_000);

  it("a fallback call in progress (made while the check is down) is ended with BYE as well", async () => {
    const { run: resp, port } = await responder(["--hold", "60"]);
    const a = await agent(
      agentConfig({
        ip,
        httpPort: await freePort("tcp", ip),
        paths: { "path-a": {} },
        destinations: {
          // The answering point does not serve this number (404), so the check goes down and each
          // failed run also tries the 088 line, which it does answer.
          "test-112": { uri: `sip:0999@${ip}:${port}`, fallbacks: ["fallback-088"] },
          "fallback-088": { uri: `sip:112@${ip}:${port}`, role: "fallback" },
        },
        checks: [
          {
            paths: ["path-a"],
            destinations: ["test-112"],
            interval: 4,
            timeout: 40,
            hold: 20,
            media: "loopback",
            confirmAfter: 0.5,
          },
        ],
      }),
    );
    await eventually(async () => (await inProgress(resp)) === 1, 30_000, "the fallback call to be taken", 50);
    await new Promise((r) => setTimeout(r, 1500));
    a.signal("SIGTERM");
    expect((await a.process.exited).code, agentLogTail(a)).toBe(0);
    const rec = await resp.waitForJournal((j) => j.type === "test_call", 5000);
    expect(rec).toMatchObject({ outcome: "completed", endedBy: "remote" });
  }, 60_000);

  it("journals the call it cut short as its own doing, never as a provider failure", () => {
    expect(ringingJournal).toHaveLength(1);
    const [r] = ringingJournal;
    const trace = (r!.call as { trace: Array<{ summary: string }> }).trace.map(
      (e) => e.summary.split(" ")[0],
    );
    expect(trace).toEqual(expect.arrayContaining(["INVITE", "180", "CANCEL", "487"]));
    expect(
      { outcome: r!.outcome, reason: r!.reason },
      "a shutdown is not a provider timeout (the call had rung for about 1 s of its 40 s)",
    ).toMatchObject({ outcome: "probe_error" });
  });
});
