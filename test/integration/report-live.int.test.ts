import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, readAgentJournal } from "../support/agent.js";
import { CLI, runCli } from "../support/call.js";
import { freePort } from "../support/ports.js";
import { spawnManaged, tail } from "../support/process.js";
import { type PrometheusRun, startPrometheus } from "../support/prometheus.js";

// The report on live data: `probe112 demo --data-dir` runs, a real Prometheus scrapes its agent and
// answering point, then `probe112 report` reads that Prometheus and the demo's signed journals. The
// report's figures must agree with what Prometheus itself says and with the journals.

const dir = mkdtempSync(join(tmpdir(), "p112-report-live-"));
const CHECKS = 4; // 2 paths × 2 destinations in the built-in configuration

describe("probe112 report on a demo run scraped by a real Prometheus", () => {
  let prometheus: PrometheusRun;
  let from = "";
  /** Prometheus's own view at the end, per check: scheduled calls (the agent's faults left out), all calls. */
  const scheduledInPrometheus = new Map<string, number>();
  const attemptsInPrometheus = new Map<string, number>();

  beforeAll(async () => {
    const agentHttp = `127.0.0.1:${await freePort("tcp")}`;
    const responderHttp = `127.0.0.1:${await freePort("tcp")}`;
    prometheus = await startPrometheus({ ip: "127.0.0.1", targets: [agentHttp, responderHttp] });
    from = new Date(Date.now() - 1000).toISOString();
    const demo = spawnManaged(
      process.execPath,
      [CLI, "demo", "--interval", "5", "--data-dir", dir, "--agent-http", agentHttp].concat([
        "--responder-metrics",
        responderHttp,
        "--log-format",
        "json",
      ]),
      { name: "probe112 demo" },
    );
    try {
      await demo.waitFor(/probe112 demo is running/, 20_000);
      // At least three scheduled calls of every check seen by Prometheus.
      await eventually(
        async () => {
          const r = await prometheus.query(
            'probe112_call_attempts_total{attempt="scheduled",outcome="answered"}',
          );
          return r.length === CHECKS && r.every((s) => s.value >= 3) ? r : undefined;
        },
        90_000,
        () => `three answered calls per check in Prometheus; demo output:\n${tail(demo.output())}`,
      );
    } finally {
      const r = await demo.stop("SIGTERM", 20_000);
      expect(r.code, `signal ${r.signal}; ${tail(r.stderr)}`).toBe(0);
    }
    const last = (selector: string) =>
      prometheus.query(`sum by (check) (last_over_time(probe112_call_attempts_total${selector}[5m]))`);
    for (const s of await last('{attempt="scheduled",outcome!="probe_error"}'))
      scheduledInPrometheus.set(s.metric.check!, s.value);
    for (const s of await last("")) attemptsInPrometheus.set(s.metric.check!, s.value);
  }, 150_000);

  afterAll(async () => {
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const report = (...extra: string[]) =>
    runCli([
      "report",
      ...["--from", from, "--to", "now", "--prometheus", prometheus.url],
      ...[
        "--journal",
        dir,
        "--key",
        join(dir, "keys", "agent.pub"),
        "--key",
        join(dir, "keys", "responder.pub"),
      ],
      ...extra,
    ]);

  it("JSON: figures agree with Prometheus's own counters and with the journals; evidence intact (exit 0)", async () => {
    const r = await report("--format", "json");
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.prometheus).toMatchObject({ ok: true, error: null });
    expect(m.evidenceIntact).toBe(true);
    expect(m.groups).toHaveLength(CHECKS);
    expect(m.incidents).toEqual([]);
    for (const g of m.groups) {
      const check = `${g.provider}-${g.access}.${g.destination}`;
      // Every series was born inside the range, so the report's increase is the last value.
      expect(g.scheduled, check).toBe(scheduledInPrometheus.get(check));
      expect(g.attempts, check).toBe(attemptsInPrometheus.get(check));
      expect(g).toMatchObject({ availabilityAttempts: 1, availabilityTime: 1, ser: 1, seer: 1, isa: 0 });
      // A call the agent itself broke off (probe_error, e.g. at shutdown) has no setup delay.
      expect(g.srd.count, JSON.stringify(g.outcomes)).toBe(g.attempts - g.probeErrors);
      expect(g.srd.p50).toBeGreaterThan(0);
      expect(g.srd.p50).toBeLessThanOrEqual(g.srd.p99);
    }
    // The journals hold every call, including any that ended after Prometheus's last scrape.
    const answered = readAgentJournal(join(dir, "agent")).filter(
      (x) => x.type === "result" && x.outcome === "answered",
    ).length;
    expect(m.crossConfirmation).toMatchObject({
      expectedAtResponder: answered,
      confirmed: answered,
      answeredWithoutReceipt: [],
      receiptsWithoutAgent: [],
      callerIdMismatches: [],
    });
    expect(m.journals.map((j: { journal: string; ok: boolean }) => [j.journal, j.ok])).toEqual([
      ["agent/agent", true],
      ["responder/responder", true],
    ]);
  });

  it("HTML and CSV are written from the same model; --provider narrows it", async () => {
    const html = join(dir, "report.html");
    expect((await report("--out", html)).code).toBe(0);
    const page = readFileSync(html, "utf8");
    expect(page).toContain("Evidence intact");
    expect(page).toMatch(/<svg/);
    const csv = join(dir, "report.csv");
    expect((await report("--format", "csv", "--out", csv, "--provider", "provider-b")).code).toBe(0);
    const rows = readFileSync(csv, "utf8").trimEnd().split("\n");
    expect(rows).toHaveLength(1 + 2); // header + provider-b's two destinations
    expect(rows.slice(1).every((row) => row.startsWith("provider-b,"))).toBe(true);
    expect(readFileSync(join(dir, "report-journals.csv"), "utf8")).toMatch(/^agent\/agent,.*,true,0,$/m);
  });

  it("a journal edited after the run: the report is still written, names the record, and exits 1", async () => {
    const agentDir = join(dir, "agent");
    const file = join(agentDir, readdirSync(agentDir).find((n) => n.endsWith(".jsonl"))!);
    const original = readFileSync(file, "utf8");
    // One answered call turned into a busy one after the fact.
    writeFileSync(file, original.replace('"outcome":"answered"', '"outcome":"busy"'));
    try {
      const r = await report("--format", "json");
      expect(r.code).toBe(1);
      const m = JSON.parse(r.stdout);
      expect(m.evidenceIntact).toBe(false);
      expect(m.problems[0]).toMatch(
        /journal "agent\/agent" .* is BROKEN: .*edited at .*agent-\d{4}-\d\d-\d\d\.jsonl:\d+/,
      );
      expect(r.stderr).toMatch(/BROKEN/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it("a range before the demo ran: no figures, said plainly, exit 1", async () => {
    const start = Date.parse(from);
    const r = await runCli([
      "report",
      ...[
        "--from",
        new Date(start - 3_600_000).toISOString(),
        "--to",
        new Date(start - 1_800_000).toISOString(),
      ],
      ...["--prometheus", prometheus.url, "--format", "json"],
    ]);
    expect(r.code).toBe(1);
    const m = JSON.parse(r.stdout);
    expect(m.prometheus.ok).toBe(true);
    expect(m.groups).toEqual([]);
    expect(r.stderr).toMatch(/no probe112 test-call data at http:\/\/127\.0\.0\.1:\d+ between/);
  });
});
