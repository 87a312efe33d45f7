import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/agent.js";
import { CLI, runCli } from "../support/call.js";
import { freePort } from "../support/ports.js";
import { spawnManaged, tail } from "../support/process.js";
import { metricSum } from "../support/responder.js";

// The main job end to end: `probe112 demo --data-dir` runs the answering point and the agent on
// loopback with signed journals; then the real binary verifies and cross-matches those journals,
// and catches them being tampered with.

const dir = mkdtempSync(join(tmpdir(), "p112-demo-"));
const agentDir = join(dir, "agent");
const responderDir = join(dir, "responder");
const agentPub = join(dir, "keys", "agent.pub");
const responderPub = join(dir, "keys", "responder.pub");
const CHECKS = 4; // 2 paths × 2 destinations in the built-in configuration

function journalLines(d: string): string[] {
  return readdirSync(d)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) => readFileSync(join(d, f), "utf8").trimEnd().split("\n"));
}

/** A copy of a journal directory, so that each tampering starts from the intact original. */
function copyJournal(from: string, name: string): string {
  const to = mkdtempSync(join(dir, `${name}-`));
  for (const f of readdirSync(from)) writeFileSync(join(to, f), readFileSync(join(from, f)));
  return to;
}

describe("probe112 demo with --data-dir, then probe112 journal", () => {
  let agentMetrics = "";
  let responderMetrics = "";
  let stdout = "";

  beforeAll(async () => {
    const agentHttp = `127.0.0.1:${await freePort("tcp")}`;
    const responderHttp = `127.0.0.1:${await freePort("tcp")}`;
    const demo = spawnManaged(
      process.execPath,
      [
        CLI,
        "demo",
        "--interval",
        "5",
        "--data-dir",
        dir,
        "--agent-http",
        agentHttp,
        "--responder-metrics",
        responderHttp,
        "--log-format",
        "json",
      ],
      { name: "probe112 demo" },
    );
    try {
      await demo.waitFor(/probe112 demo is running/, 20_000);
      // Every check answered at least once, as the NOC would see it on /metrics.
      agentMetrics = await eventually(
        async () => {
          const text = await (await fetch(`http://${agentHttp}/metrics`)).text();
          return metricSum(text, "probe112_probe_success") === CHECKS ? text : undefined;
        },
        60_000,
        () => `all ${CHECKS} demo checks succeeding; demo output:\n${tail(demo.output())}`,
      );
      responderMetrics = await (await fetch(`http://${responderHttp}/metrics`)).text();
    } finally {
      const r = await demo.stop("SIGTERM", 10_000);
      stdout = r.stdout;
      expect(r.code, tail(r.stderr)).toBe(0);
    }
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("serves metrics from both sides and names the journals and the commands to check them", () => {
    expect(metricSum(agentMetrics, "probe112_probe_success", { path: "provider-a-voip" })).toBe(2);
    expect(metricSum(agentMetrics, "probe112_probe_success", { path: "provider-b-fixed" })).toBe(2);
    expect(metricSum(responderMetrics, "probe112_responder_test_calls_total")).toBeGreaterThanOrEqual(CHECKS);
    expect(stdout).toContain(`probe112 journal verify ${agentDir} --key ${agentPub}`);
    expect(stdout).toContain(`probe112 journal match --agent ${agentDir} --responder ${responderDir}`);
    expect(statSync(join(dir, "keys", "agent.key")).mode & 0o777).toBe(0o600);
  });

  it("journal verify: both journals intact and signed by their own keys (exit 0)", async () => {
    for (const [d, key] of [
      [agentDir, agentPub],
      [responderDir, responderPub],
    ] as const) {
      const r = await runCli(["journal", "verify", d, "--key", key, "--json"]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const [report] = JSON.parse(r.stdout).journals;
      expect(report.ok).toBe(true);
      expect(report.records).toBe(journalLines(d).length);
      expect(report.signed).toBe(report.records);
    }
  });

  // Runs before the tampering tests below add their copies under the same directory.
  it("journal verify of the whole data directory with both keys: each journal checked with its own", async () => {
    const r = await runCli(["journal", "verify", dir, "--key", agentPub, "--key", responderPub, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.keyIds).toHaveLength(2);
    expect(
      out.journals.map((j: { journal: string; ok: boolean; signed: number }) => [
        j.journal,
        j.ok,
        j.signed > 0,
      ]),
    ).toEqual([
      ["agent/agent", true, true],
      ["responder/responder", true, true],
    ]);
  });

  it("journal verify with the other instance's key: every record named, exit 1", async () => {
    const r = await runCli(["journal", "verify", agentDir, "--key", responderPub]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^BROKEN {2}journal agent:/);
    expect(r.stdout).toMatch(/unknown_key/);
    // Every record is named in --json; the text keeps to the first ten so the first one is seen.
    const records = journalLines(agentDir).length;
    expect(r.stdout.match(/unknown_key/g)).toHaveLength(Math.min(10, records));
    expect(r.stdout.includes(`first 10 of ${records} problems`)).toBe(records > 10);
  });

  it("journal match: every answered call confirmed by the answering point (exit 0)", async () => {
    const r = await runCli(["journal", "match", "--agent", agentDir, "--responder", responderDir, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    const answered = journalLines(agentDir)
      .map((l) => JSON.parse(l))
      .filter((x) => x.type === "result" && x.outcome === "answered" && x.verification?.identity === "ok");
    expect(answered.length).toBeGreaterThanOrEqual(CHECKS);
    expect(m).toMatchObject({
      expectedAtResponder: answered.length,
      confirmed: answered.length,
      answeredWithoutReceipt: [],
      receiptsWithoutAgent: [],
      callerIdMismatches: [],
    });
  });

  it("an edited outcome is found and named by file and line (exit 1)", async () => {
    const copy = copyJournal(agentDir, "edited");
    const file = readdirSync(copy).find((f) => f.endsWith(".jsonl"))!;
    const lines = readFileSync(join(copy, file), "utf8").trimEnd().split("\n");
    const at = lines.findIndex((l) => l.includes('"outcome":"answered"'));
    expect(at).toBeGreaterThanOrEqual(0);
    lines[at] = lines[at]!.replace('"outcome":"answered"', '"outcome":"busy"');
    writeFileSync(join(copy, file), `${lines.join("\n")}\n`);
    const r = await runCli(["journal", "verify", copy, "--key", agentPub]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`edited      ${file}:${at + 1}`);
  });

  it("a receipt removed from the answering point's journal: the call is listed as unconfirmed and the gap as removed", async () => {
    const copy = copyJournal(responderDir, "removed");
    const file = readdirSync(copy).find((f) => f.endsWith(".jsonl"))!;
    const lines = readFileSync(join(copy, file), "utf8").trimEnd().split("\n");
    const at = lines.findIndex((l) => l.includes('"type":"test_call"') && l.includes('"token":"'));
    const token = /"token":"(\d+)"/.exec(lines[at]!)![1];
    lines.splice(at, 1);
    writeFileSync(join(copy, file), `${lines.join("\n")}\n`);
    const match = await runCli(["journal", "match", "--agent", agentDir, "--responder", copy]);
    expect(match.code).toBe(1);
    expect(match.stdout).toMatch(/^1 answered without a receipt/m);
    expect(match.stdout).toContain(`token ${token}`);
    const verify = await runCli(["journal", "verify", copy, "--key", responderPub]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/removed/);
  });
});

describe("probe112 journal and keys: usage errors name the flag (exit 2)", () => {
  it.each([
    [["journal", "verify"], /<paths>.*name at least one journal/s],
    [["journal", "verify", "/nonexistent/journals"], /cannot read \/nonexistent\/journals: ENOENT/],
    [["journal", "verify", tmpdir(), "--key", "/nonexistent.pub"], /--key.*ENOENT/s],
    [["journal", "match", "--agent", tmpdir()], /--responder.*needs --agent and --responder/s],
    [["keys", "generate", "--out", tmpdir(), "--name", "a b"], /--name.*letters, digits/s],
  ])("%j", async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("a directory without journals is a usage error, not an intact verdict", async () => {
    const empty = mkdtempSync(join(tmpdir(), "p112-empty-"));
    const r = await runCli(["journal", "verify", empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no journal files/);
  });

  it("keys generate writes a private key only its owner can read and prints the key id", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "p112-keys-")), "keys");
    const r = await runCli(["keys", "generate", "--out", out, "--name", "kpn-ams-1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(out, "kpn-ams-1.key")).mode & 0o777).toBe(0o600);
    expect(r.stdout).toMatch(/key id {6}[0-9a-f]{16}/);
    // A second run must not overwrite the key an agent already signs with.
    const again = await runCli(["keys", "generate", "--out", out, "--name", "kpn-ams-1"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists/);
  });
});
