import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupFigures, ReportModel } from "../../src/report/model.js";
import { runCli } from "../support/call.js";
import { freePort } from "../support/ports.js";
import { createTsdb, startPrometheusOnTsdb, type TsdbPrometheus } from "../support/tsdb.js";
import { htmlText, printedProblems, type ReportRun, runReport } from "./run-report.js";
import { at, mainDay, P_END, P0, partialDay, SLOT, T_END, T0 } from "./scenario.js";

// `probe112 report` end to end: a real Prometheus holding the history described in scenario.ts,
// the real CLI, and figures worked out by hand from that description (never by calling the
// code under test).

let prom: TsdbPrometheus;
let dir: string;
const USERS = ["--users", "kpn=5600000", "--users", "vodafone=5000000", "--users", "tmobile=4000000"];
const MAIN = ["--from", "2026-06-01T07:00Z", "--to", "2026-06-01T13:00Z"];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "p112-report-figures-"));
  const history = mainDay();
  partialDay(history);
  prom = await startPrometheusOnTsdb(await createTsdb(history.toFamilies()));
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const report = (args: readonly string[], format: "json" | "html" | "csv" = "json") =>
  runReport(dir, ["--prometheus", prom.url, ...args], format);

const group = (m: ReportModel, provider: string, access: string) => {
  const g = m.groups.find((x) => x.provider === provider && x.access === access);
  if (!g) throw new Error(`no group ${provider}/${access} in ${m.groups.map((x) => x.provider)}`);
  return g;
};

/** The figures a group must show; ratios to 9 digits. */
function expectGroup(g: GroupFigures, want: Omit<GroupFigures, "role" | "checks" | "destination">): void {
  const { srd, availabilityAttempts, availabilityTime, coverage, ser, seer, isa, ...exact } = want;
  expect({
    provider: g.provider,
    access: g.access,
    agents: g.agents,
    scheduled: g.scheduled,
    scheduledAnswered: g.scheduledAnswered,
    attempts: g.attempts,
    outcomes: g.outcomes,
    probeErrors: g.probeErrors,
    verificationFailures: g.verificationFailures,
  }).toEqual(exact);
  const ratios = { availabilityAttempts, availabilityTime, coverage, ser, seer, isa };
  for (const [k, v] of Object.entries(ratios)) {
    const got = g[k as keyof typeof ratios];
    if (v === null) expect(got, `${g.provider} ${g.access} ${k}`).toBeNull();
    else expect(got, `${g.provider} ${g.access} ${k}`).toBeCloseTo(v, 9);
  }
  expect(g.srd.count, `${g.provider} ${g.access} SRD count`).toBe(srd.count);
  for (const q of ["p50", "p95", "p99"] as const)
    expect(g.srd[q], `${g.provider} ${g.access} SRD ${q}`).toBeCloseTo(srd[q]!, 9);
  expect(g.destination).toBe("test-112");
  expect(g.checks).toBe(1);
}

describe("the main day (2026-06-01 07:00–13:00Z), as JSON", () => {
  let run: ReportRun;
  let m: ReportModel;

  beforeAll(async () => {
    run = await report([...MAIN, ...USERS]);
    m = run.model!;
  });

  it("exits 0 with the one problem there is: vodafone's scrape gap", () => {
    expect(run.code, run.stderr).toBe(0);
    expect(m.from).toBe("2026-06-01T07:00:00.000Z");
    expect(m.to).toBe("2026-06-01T13:00:00.000Z");
    expect(m.prometheus).toMatchObject({ ok: true, error: null, warnings: [] });
    // Samples at m 240 stand until 245; none again until 251: 6 min of 360 without data.
    expect(m.problems).toEqual([expect.stringMatching(/^vodafone voip → test-112: data for only 98\.3%/)]);
    expect(printedProblems(run)).toEqual(m.problems);
    expect(m.groups.map((g) => `${g.provider}/${g.access}`).sort()).toEqual([
      "kpn/mobile",
      "kpn/voip",
      "tmobile/mobile",
      "vodafone/voip",
    ]);
  });

  it("kpn voip: a restart (counter reset) loses nothing, the 10 000 calls before the range count for nothing", () => {
    // Scheduled calls at m 1–360 except m 200 (the restart): 359, all answered.
    // SRD: 1.5 s when m % 4 == 0 (90 of m 1–360, minus m 200: 89), else 0.3 s (270).
    //   Cumulative buckets: le 0.5 → 270, le 1 → 270, le 2 → 359.
    //   p50: rank 0.5 × 359 = 179.5 in (0.25, 0.5]: 0.25 + 0.25 × 179.5 / 270 = 0.41620370…
    //   p95: rank 341.05 in (1, 2]: 1 + 1 × (341.05 − 270) / 89 = 1.79831460…
    //   p99: rank 355.41 in (1, 2]: 1 + (355.41 − 270) / 89 = 1.95966292…
    // probe_success 1 throughout (the sample at m 199 stands until the next at m 201).
    expectGroup(group(m, "kpn", "voip"), {
      provider: "kpn",
      access: "voip",
      agents: ["kpn-ams-1"],
      scheduled: 359,
      scheduledAnswered: 359,
      availabilityAttempts: 1,
      availabilityTime: 1,
      coverage: 1,
      attempts: 359,
      outcomes: { answered: 359 },
      probeErrors: 0,
      ser: 1,
      seer: 1,
      isa: 0,
      srd: { count: 359, p50: 0.25 + (0.25 * 179.5) / 270, p95: 1 + 71.05 / 89, p99: 1 + 85.41 / 89 },
      verificationFailures: { identity: 0, media: 0 },
    });
  });

  it("kpn mobile: an outage of timeouts, busy calls and their confirmations", () => {
    // Scheduled: 359 (no call at m 200). Timeouts m 150–169: 20. Busy at m 30, 90, 210, 270,
    // 330 (m 150 is in the outage): 5. Answered scheduled: 359 − 20 − 5 = 334.
    // Confirm calls: 5 answered (after each busy) + 1 timeout (m 151).
    // Attempts 359 + 6 = 365: answered 334 + 5 = 339, busy 5, timeout 21.
    // SER 339/365; SEER (339 + 5)/365; ISA 0 (a timeout is no 408/5xx answer).
    // probe_success 0 from m 150 to m 170: 1200 s of 21 600 s.
    // SRD: 339 answered calls, all 2.5 s, in (2, 3]: p = 2 + q.
    expectGroup(group(m, "kpn", "mobile"), {
      provider: "kpn",
      access: "mobile",
      agents: ["kpn-ams-1"],
      scheduled: 359,
      scheduledAnswered: 334,
      availabilityAttempts: 334 / 359,
      availabilityTime: (21_600 - 1200) / 21_600,
      coverage: 1,
      attempts: 365,
      outcomes: { answered: 339, busy: 5, timeout: 21 },
      probeErrors: 0,
      ser: 339 / 365,
      seer: 344 / 365,
      isa: 0,
      srd: { count: 339, p50: 2.5, p95: 2.95, p99: 2.99 },
      verificationFailures: { identity: 0, media: 0 },
    });
  });

  it("vodafone voip: 503s, a redirect, agent faults left out, and a scrape gap out of the time base", () => {
    // Scheduled at m 1–360: 360. probe_error m 10, 20, 30: 3 (no one's fault: left out).
    // 503 network_failure m 60–89: 30; redirected m 300: 1; answered 360 − 3 − 30 − 1 = 326.
    // Confirm calls: network_failure m 61, answered m 300.
    // Availability (calls): 326 / (360 − 3).
    // Attempts (probe_error left out) 357 + 2 = 359: answered 327, network_failure 31, redirected 1.
    // SER = SEER = 327 / (359 − 1); ISA 31 / 359.
    // Time: the gap leaves m 245–251 unknown (360 s): known 21 240 s, of which m 60–90 (1800 s)
    // down: (21 240 − 1800) / 21 240; coverage 21 240 / 21 600.
    // SRD: 327 answered calls at 0.2 s in (0.1, 0.25]: p = 0.1 + 0.15 q.
    expectGroup(group(m, "vodafone", "voip"), {
      provider: "vodafone",
      access: "voip",
      agents: ["vz-rtm-1"],
      scheduled: 357,
      scheduledAnswered: 326,
      availabilityAttempts: 326 / 357,
      availabilityTime: 19_440 / 21_240,
      coverage: 21_240 / 21_600,
      attempts: 359,
      outcomes: { answered: 327, network_failure: 31, redirected: 1 },
      probeErrors: 3,
      ser: 327 / 358,
      seer: 327 / 358,
      isa: 31 / 359,
      srd: { count: 327, p50: 0.175, p95: 0.2425, p99: 0.2485 },
      verificationFailures: { identity: 0, media: 0 },
    });
  });

  it("tmobile mobile: network failures, and a media failure first counted inside the range", () => {
    // Scheduled at m 1–360: 360; network_failure m 152–174: 23; answered 337 (m 50 included:
    // answered, though its media check failed). Confirm calls: answered m 50; failing m 153, 154.
    // Attempts 363: answered 338, network_failure 25. SER = SEER = 338/363; ISA 25/363.
    // probe_success 0 from m 152 to m 175: 1380 s. SRD 338 × 0.75 s in (0.5, 1]: 0.5 + 0.5 q.
    // The media-failure counter series first appears at m 50: counted from zero, 1.
    expectGroup(group(m, "tmobile", "mobile"), {
      provider: "tmobile",
      access: "mobile",
      agents: ["tm-gn-1"],
      scheduled: 360,
      scheduledAnswered: 337,
      availabilityAttempts: 337 / 360,
      availabilityTime: (21_600 - 1380) / 21_600,
      coverage: 1,
      attempts: 363,
      outcomes: { answered: 338, network_failure: 25 },
      probeErrors: 0,
      ser: 338 / 363,
      seer: 338 / 363,
      isa: 25 / 363,
      srd: { count: 338, p50: 0.75, p95: 0.975, p99: 0.995 },
      verificationFailures: { identity: 0, media: 1 },
    });
  });

  it("incidents: vodafone alone, then kpn and tmobile mobile at once (one event, several providers)", () => {
    expect(m.incidents.map(({ checks: _c, ...i }) => i)).toEqual([
      {
        id: 1,
        // First failed probe at m 60 (08:00Z), confirmed at m 61, recovered at m 90.
        start: at(60),
        end: at(90),
        durationSeconds: 1800,
        timeToDetectSeconds: 60,
        providers: ["vodafone"],
        accesses: ["voip"],
        destinations: ["test-112"],
        multiProvider: false,
        // 5 000 000 subscribers × 0.5 h.
        userHours: 2_500_000,
        gaps: false,
      },
      {
        id: 2,
        // kpn-mobile m 150–170 (confirmed 151) overlaps tmobile m 152–175 (confirmed 154).
        start: at(150),
        end: at(175),
        durationSeconds: 25 * 60,
        // From the first failed probe (m 150) to the first confirmation (m 151).
        timeToDetectSeconds: 60,
        providers: ["kpn", "tmobile"],
        accesses: ["mobile"],
        destinations: ["test-112"],
        multiProvider: true,
        // kpn 5 600 000 × 20/60 h + tmobile 4 000 000 × 23/60 h = 1 866 666.67 + 1 533 333.33.
        userHours: expect.closeTo(3_400_000, 3),
        gaps: false,
      },
    ]);
    expect(m.incidents[1]!.checks.map((c) => [c.agent, c.check, c.path, c.start, c.detected, c.end])).toEqual(
      [
        ["kpn-ams-1", "kpn-mobile.test-112", "kpn-mobile", at(150), at(151), at(170)],
        ["tm-gn-1", "tmobile-mobile.test-112", "tmobile-mobile", at(152), at(154), at(175)],
      ],
    );
  });

  it("the NL-Alert national test at 12:00 CEST: kpn +40 s (its earliest receiver), vodafone +95 s, tmobile missed, lyca's receiver disconnected", () => {
    expect(SLOT).toBe(at(180));
    expect(m.nationalTests).toEqual([
      {
        scheduledAt: "2026-06-01T10:00:00.000Z",
        operator: "kpn",
        modems: ["m-kpn-1", "m-kpn-2"],
        // m-kpn-1 still held December's first-seen time before; the receipt is m-kpn-1's +40 s.
        receivedAt: "2026-06-01T10:00:40.000Z",
        latencySeconds: 40,
        received: true,
        inTime: true,
        modemsWithoutData: [],
      },
      {
        scheduledAt: "2026-06-01T10:00:00.000Z",
        operator: "lyca",
        modems: ["m-lyca-1"],
        receivedAt: null,
        latencySeconds: null,
        received: false,
        inTime: false,
        // Disconnected from m 170 to m 200: it could not have received the test.
        modemsWithoutData: ["m-lyca-1"],
      },
      {
        scheduledAt: "2026-06-01T10:00:00.000Z",
        operator: "tmobile",
        modems: ["m-tm-1"],
        receivedAt: null,
        latencySeconds: null,
        received: false,
        inTime: false,
        modemsWithoutData: [],
      },
      {
        scheduledAt: "2026-06-01T10:00:00.000Z",
        operator: "vodafone",
        modems: ["m-vf-1"],
        receivedAt: "2026-06-01T10:01:35.000Z",
        latencySeconds: 95,
        received: true,
        inTime: true,
        modemsWithoutData: [],
      },
    ]);
  });

  it("a 1-minute grace turns vodafone's +95 s into a late receipt", async () => {
    const r = await report([...MAIN, "--national-test-grace", "1"]);
    expect(r.model!.nationalTests.map((n) => [n.operator, n.received, n.inTime])).toEqual([
      ["kpn", true, true],
      ["lyca", false, false],
      ["tmobile", false, false],
      ["vodafone", true, false],
    ]);
  });

  it("reads the same figures in 1-hour chunks whose boundaries fall on samples, and shows progress", async () => {
    const r = await report([...MAIN, ...USERS, "--chunk-hours", "1"]);
    expect(r.code, r.stderr).toBe(0);
    expect({ ...r.model!, generatedAt: "" }).toEqual({ ...m, generatedAt: "" });
    // Counters are read from an hour before the range: 7 h in 1-hour chunks.
    const progress = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; phase?: string; chunks?: number });
    expect(progress.filter((p) => p.msg === "report progress").map((p) => p.phase)).toEqual(
      expect.arrayContaining(["checking Prometheus", "reading test-call series", "verifying journals"]),
    );
    expect(progress.some((p) => p.chunks === 7)).toBe(true);
  });

  it("--provider keeps one provider's groups and incidents (the shared incident becomes kpn's alone)", async () => {
    const r = await report([...MAIN, ...USERS, "--provider", "kpn"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.model!.groups.map((g) => `${g.provider}/${g.access}`)).toEqual(["kpn/mobile", "kpn/voip"]);
    expect(r.model!.incidents.map((i) => [i.providers, i.start, i.end, i.userHours])).toEqual([
      [["kpn"], at(150), at(170), expect.closeTo(5_600_000 / 3, 3)],
    ]);
  });
});

describe("CSV and HTML", () => {
  it("CSV: the figures table and its three companions, ratios as fractions", async () => {
    const r = await report([...MAIN, ...USERS], "csv");
    expect(r.code, r.stderr).toBe(0);
    const stem = r.file!.replace(/\.csv$/, "");
    const lines = (f: string) => readFileSync(f, "utf8").trimEnd().split("\r\n");
    const figures = lines(r.file!);
    expect(figures).toHaveLength(5);
    const head = figures[0]!.split(",");
    const kpnMobile = figures.find((l) => l.startsWith("kpn,mobile,"))!.split(",");
    const col = (name: string) => kpnMobile[head.indexOf(name)];
    expect(col("scheduled_calls")).toBe("359");
    expect(col("scheduled_answered")).toBe("334");
    expect(Number(col("availability_calls"))).toBeCloseTo(334 / 359, 12);
    expect(Number(col("srd_p95_seconds"))).toBeCloseTo(2.95, 12);
    expect(col("from")).toBe("2026-06-01T07:00:00.000Z");
    const incidents = lines(`${stem}-incidents.csv`);
    expect(incidents).toHaveLength(3);
    expect(incidents[2]).toMatch(
      /^2,2026-06-01T09:30:00\.000Z,2026-06-01T09:55:00\.000Z,1500,60,kpn tmobile,mobile,test-112,/,
    );
    const nt = lines(`${stem}-national-tests.csv`);
    expect(nt.slice(1)).toEqual([
      "2026-06-01T10:00:00.000Z,kpn,m-kpn-1 m-kpn-2,true,true,2026-06-01T10:00:40.000Z,40,",
      "2026-06-01T10:00:00.000Z,lyca,m-lyca-1,false,false,,,m-lyca-1",
      "2026-06-01T10:00:00.000Z,tmobile,m-tm-1,false,false,,,",
      "2026-06-01T10:00:00.000Z,vodafone,m-vf-1,true,true,2026-06-01T10:01:35.000Z,95,",
    ]);
    expect(lines(`${stem}-journals.csv`)).toHaveLength(1);
  });

  it("HTML: local times in the chosen zone, the hand-computed figures and two SVG charts", async () => {
    const r = await report([...MAIN, ...USERS], "html");
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(r.file!, "utf8");
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<script/i);
    const text = htmlText(html);
    expect(text).toContain("Period 2026-06-01 09:00:00 CEST – 2026-06-01 15:00:00 CEST");
    // 334/359 = 93.0362 %, 326/357 = 91.3165 %, 19 440/21 240 = 91.5254 %.
    for (const figure of ["93.036%", "91.317%", "91.525%", "2.950 s", "0.416 s"])
      expect(text).toContain(figure);
    expect(text).toMatch(
      /2 several providers 2026-06-01 11:30:00 CEST 2026-06-01 11:55:00 CEST 25 min 1 min/,
    );
    expect(text).toContain("3,400,000");
    expect(text).toMatch(/tmobile m-tm-1 — — not received/);
    expect(text).toMatch(/lyca m-lyca-1 \(no data: m-lyca-1\) — — no verdict: no receiver data/);
    expect(text).not.toMatch(/NaN|undefined|Infinity/);
    const utc = await report([...MAIN, "--timezone", "UTC"], "html");
    expect(htmlText(readFileSync(utc.file!, "utf8"))).toContain("Period 2026-06-01 07:00:00 UTC");
  });
});

describe("partial and missing data", () => {
  it("one provider's series missing for the second half, another's for the first: coverage said plainly, nothing counted twice", async () => {
    const r = await report(["--from", "2026-06-10T00:00Z", "--to", "2026-06-10T04:00Z"]);
    expect(r.code, r.stderr).toBe(0);
    const m = r.model!;
    expect(m.from).toBe(new Date(P0 * 1000).toISOString());
    expect(m.to).toBe(new Date(P_END * 1000).toISOString());
    // kpn: scraped throughout, 240 calls answered.
    expect(group(m, "kpn", "voip")).toMatchObject({ scheduled: 240, scheduledAnswered: 240, coverage: 1 });
    // tmobile: scraped up to m 120; that sample stands 5 min: 125 of 240 min known.
    const tm = group(m, "tmobile", "mobile");
    expect(tm).toMatchObject({ scheduled: 120, scheduledAnswered: 120, availabilityTime: 1 });
    expect(tm.coverage).toBeCloseTo(125 / 240, 12);
    // vodafone: first seen at m 121 with its counters at 10 000 + 182. What it did before is
    // unknown: only the increases seen, m 122–240, are the range's: 119 (never 10 301).
    const vf = group(m, "vodafone", "voip");
    expect(vf.coverage).toBeCloseTo(119 / 240, 12);
    expect(vf.scheduled).toBe(119);
    expect(vf.attempts).toBe(119);
    expect(vf.srd.count).toBe(119);
    expect(m.problems).toEqual([
      expect.stringMatching(/^tmobile mobile → test-112: data for only 52\.1%/),
      expect.stringMatching(/^vodafone voip → test-112: data for only 49\.6%/),
    ]);
  });

  it("a range with no data at all: exit 1, says so, no figure shown", async () => {
    const r = await report(["--from", "2026-05-01", "--to", "2026-05-02"]);
    expect(r.code).toBe(1);
    expect(r.model!.groups).toEqual([]);
    expect(r.model!.problems).toEqual([
      expect.stringMatching(
        /^no probe112 test-call data at http:\/\/127\.0\.0\.1:\d+ between 2026-04-30T22:00:00\.000Z/,
      ),
    ]);
    const html = await report(["--from", "2026-05-01", "--to", "2026-05-02"], "html");
    expect(html.code).toBe(1);
    const text = htmlText(readFileSync(html.file!, "utf8"));
    expect(text).toContain("No figures");
    expect(text).not.toMatch(/\d%/);
    // Without data there is no basis for "no failure" either.
    expect(text).not.toMatch(/No confirmed failure/);
  });

  it("a range just after the data ends (inside the counters' look-back): still no data, exit 1, no 0 or 100 %", async () => {
    // The last samples are at 13:00Z; counters are read from an hour before --from.
    const r = await report(["--from", "2026-06-01T13:30Z", "--to", "2026-06-01T14:30Z"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.model!.problems.join("\n")).toMatch(/no .*data/i);
    for (const g of r.model!.groups) {
      expect(g.availabilityAttempts).toBeNull();
      expect(g.availabilityTime).toBeNull();
      expect(g.ser).toBeNull();
    }
    const html = await report(["--from", "2026-06-01T13:30Z", "--to", "2026-06-01T14:30Z"], "html");
    const text = htmlText(readFileSync(html.file!, "utf8"));
    expect(text).not.toMatch(/\d%/);
    expect(text).not.toMatch(/No confirmed failure/);
  });

  it("Prometheus answering with warnings (partial data): said plainly, and the report is not complete (exit 1)", async () => {
    // How Prometheus (or Thanos/Mimir in front of it) says a result is partial: a warning in an
    // otherwise successful answer. A proxy adds one to every answer of the real Prometheus.
    const WARNING = "remote_read: store eu-west-2 did not answer, the result may be partial";
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const up = await fetch(`${prom.url}${req.url}`, {
          method: req.method,
          headers: { "content-type": req.headers["content-type"] ?? "application/x-www-form-urlencoded" },
          body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
        });
        const json = (await up.json()) as Record<string, unknown>;
        res.writeHead(up.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ ...json, warnings: [WARNING] }));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const r = await runReport(dir, ["--prometheus", url, ...MAIN]);
      expect(r.model!.prometheus.warnings).toEqual([WARNING]);
      expect(r.model!.problems).toContain(`Prometheus warned: ${WARNING} (some figures may be incomplete)`);
      expect(printedProblems(r)).toContain(`Prometheus warned: ${WARNING} (some figures may be incomplete)`);
      // "0: complete report with intact evidence" (--help): a partial one is not.
      expect(r.code, r.stderr).toBe(1);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it("Prometheus unreachable: exit 1, the report is still written, names the URL and shows no figure", async () => {
    const port = await freePort("tcp");
    const url = `http://127.0.0.1:${port}`;
    const r = await runReport(dir, ["--prometheus", url, ...MAIN]);
    expect(r.code).toBe(1);
    const m = r.model!;
    expect(m.prometheus).toMatchObject({ ok: false, url });
    expect(m.prometheus.error).toBe(`cannot reach Prometheus at ${url}: ECONNREFUSED`);
    expect(m.problems).toEqual([
      `cannot reach Prometheus at ${url}: ECONNREFUSED: this report has no figures from Prometheus`,
    ]);
    expect([m.groups, m.checks, m.incidents, m.nationalTests]).toEqual([[], [], [], []]);
    expect(printedProblems(r)).toEqual(m.problems);
    const html = await runReport(dir, ["--prometheus", url, ...MAIN], "html");
    expect(html.code).toBe(1);
    const text = htmlText(readFileSync(html.file!, "utf8"));
    expect(text).toContain(`cannot reach Prometheus at ${url}`);
    expect(text).not.toMatch(/\d%/);
    expect(text).not.toMatch(/No confirmed failure/);
  });
});

describe("usage errors (exit 2, nothing written)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["--to before --from", ["--from", "2026-06-02", "--to", "2026-06-01"], /--to: must be after --from/],
    ["an unknown time zone", [...MAIN, "--timezone", "Europe/Utrecht"], /--timezone: unknown time zone/],
    ["subscribers that are not a number", [...MAIN, "--users", "kpn=lots"], /--users: "kpn=lots"/],
    ["a negative subscriber count", [...MAIN, "--users", "kpn=-5"], /--users/],
    ["a date that does not exist", ["--from", "2026-02-30", "--to", "2026-03-01"], /--from/],
    ["a zero chunk size", [...MAIN, "--chunk-hours", "0"], /--chunk-hours/],
    // Nothing can be reported about the future: the range would be cut to before its start.
    ["a range in the future", ["--from", "2099-01-01", "--to", "2099-02-01"], /--from/],
    ["--out twice", [...MAIN, "--out", join(tmpdir(), "june.html")], /--out: given more than once/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await report(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.file).toBeUndefined();
    });
  }
});

it("--out into a missing directory is refused before any query (exit 2)", async () => {
  const r = await runCli([
    "report",
    ...MAIN,
    "--prometheus",
    "http://127.0.0.1:9",
    "--out",
    "/nonexistent/june.html",
  ]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/--out: cannot write into \/nonexistent \(ENOENT\): create the directory/);
});

it("the scenario's range constants agree with the command line's", () => {
  expect(new Date(T0 * 1000).toISOString()).toBe("2026-06-01T07:00:00.000Z");
  expect(new Date(T_END * 1000).toISOString()).toBe("2026-06-01T13:00:00.000Z");
});
