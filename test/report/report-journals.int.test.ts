import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Journal } from "../../src/results/journal.js";
import { generateJournalKeys, loadJournalKey } from "../../src/results/keys.js";
import { agentTarget, History, SimAgent } from "../support/agent-history.js";
import { createTsdb, startPrometheusOnTsdb, type TsdbPrometheus } from "../support/tsdb.js";
import { htmlText, printedProblems, runReport } from "./run-report.js";
import { KPN_MOBILE, KPN_VOIP, T0, VODAFONE_VOIP } from "./scenario.js";

// The evidence side of the report: agent and answering-point journals written by the real
// Journal class with real keys, cross-confirmed by the report; then tampered with, one way at a
// time, each of which must turn the report's exit code to 1 and name the journal and the line.

let prom: TsdbPrometheus;
let dir: string;
let kpnDir: string;
let vzDir: string;
let responderDir: string;
const pub: Record<"kpn" | "vz" | "responder" | "stranger", string> = {
  kpn: "",
  vz: "",
  responder: "",
  stranger: "",
};
const RANGE = ["--from", "2026-06-01T07:00Z", "--to", "2026-06-01T13:00Z"];

const iso = (h: number, m: number, s = 0, ms = 0) =>
  new Date(Date.UTC(2026, 5, 1, h, m, s, ms)).toISOString();

/** A result record as the agent journals it (journalRecord in src/agent/agent.ts). */
function agentCall(
  agent: string,
  c: { check: string; provider: string; path: string; access: string },
  token: string,
  startedAt: string,
  outcome: "answered" | "timeout" | "network_failure",
  identity: "ok" | "mismatch" | "not_checked" = outcome === "answered" ? "ok" : "not_checked",
) {
  return {
    kind: "sip_call",
    id: `res-${token}`,
    agent,
    check: c.check,
    provider: c.provider,
    path: c.path,
    access: c.access,
    transport: "udp",
    destination: "test-112",
    role: "test",
    attempt: "scheduled",
    startedAt,
    durationSeconds: 3.1,
    success: outcome === "answered" && identity === "ok",
    outcome,
    reason: outcome === "answered" ? "200 OK" : outcome,
    verification: { media: outcome === "answered" ? "ok" : null, identity },
    call: { token, callId: `agent-${token}@192.0.2.10` },
  };
}

/** A test_call record as the answering point journals it (src/responder/test-call-handler.ts). */
function receipt(
  token: string,
  agent: string,
  path: string,
  receivedAt: string,
  callerId: "match" | "mismatch" = "match",
  outcome: "completed" | "cancelled" = "completed",
) {
  return {
    callId: `sbc-${token}@198.51.100.7`,
    source: "198.51.100.7:5060",
    transport: "udp",
    requestUri: "sip:112@responder.test",
    served: "test-112",
    outcome,
    endedBy: "caller",
    byeStatus: 200,
    access: null,
    token,
    tokenState: { header: "valid", dtmf: "absent" },
    agent,
    path,
    callerId: {
      check: callerId,
      received: callerId === "match" ? "+31201110001" : "+31209999999",
      source: "p-asserted-identity",
      declared: "+31201110001",
    },
    media: null,
    receivedAt,
    durationSeconds: 3,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "p112-report-journals-"));
  const keysDir = join(dir, "keys");
  const keys = Object.fromEntries(
    (["kpn", "vz", "responder", "stranger"] as const).map((n) => {
      const k = generateJournalKeys(keysDir, n);
      pub[n] = k.publicKeyFile;
      return [n, loadJournalKey(k.privateKeyFile)];
    }),
  );
  kpnDir = join(dir, "kpn-ams-1");
  vzDir = join(dir, "vz-rtm-1");
  responderDir = join(dir, "responder");
  // kpn-ams-1's journal, one call a line (line numbers matter to the tampering tests):
  //   1  t0 06:30Z answered, no receipt, but before the range: not a finding
  //   2  t1 08:10Z answered, receipt
  //   3  t2 08:11Z answered, NO receipt: answered in the answering point's name
  //   4  t4 09:30Z timeout (nothing to confirm)
  //   5  t5 11:00Z answered, receipt
  //   6  t6 12:00Z answered, receipt
  const kpn = new Journal(kpnDir, "agent", keys.kpn);
  const calls: Array<[string, typeof KPN_VOIP, string, "answered" | "timeout"]> = [
    ["t0", KPN_VOIP, iso(6, 30), "answered"],
    ["t1", KPN_VOIP, iso(8, 10), "answered"],
    ["t2", KPN_MOBILE, iso(8, 11), "answered"],
    ["t4", KPN_MOBILE, iso(9, 30), "timeout"],
    ["t5", KPN_VOIP, iso(11, 0), "answered"],
    ["t6", KPN_VOIP, iso(12, 0), "answered"],
  ];
  for (const [token, c, at, outcome] of calls)
    await kpn.append(
      "result",
      agentCall("kpn-ams-1", c, token, at, outcome),
      new Date(Date.parse(at) + 4000),
    );
  await kpn.close();
  // vz-rtm-1: t3 answered, the receipt shows another caller ID than declared; t7 a 503.
  const vz = new Journal(vzDir, "agent", keys.vz);
  await vz.append("result", agentCall("vz-rtm-1", VODAFONE_VOIP, "t7", iso(8, 0, 30), "network_failure"));
  await vz.append("result", agentCall("vz-rtm-1", VODAFONE_VOIP, "t3", iso(9, 0), "answered"));
  await vz.close();
  // The answering point: receipts for t1, t3 (caller-ID mismatch), t5, t6; t9 that no agent
  // placed; t8 cancelled before answer (not a receipt).
  const responder = new Journal(responderDir, "responder", keys.responder);
  const receipts = [
    receipt("t1", "kpn-ams-1", "kpn-voip", iso(8, 10, 0, 400)),
    receipt("t3", "vz-rtm-1", "vodafone-voip", iso(9, 0, 0, 500), "mismatch"),
    receipt("t8", "kpn-ams-1", "kpn-voip", iso(9, 45), "match", "cancelled"),
    receipt("t9", "kpn-ams-1", "kpn-voip", iso(10, 15)),
    receipt("t5", "kpn-ams-1", "kpn-voip", iso(11, 0, 0, 300)),
    receipt("t6", "kpn-ams-1", "kpn-voip", iso(12, 0, 0, 300)),
  ];
  for (const r of receipts) await responder.append("test_call", r, new Date(Date.parse(r.receivedAt) + 3000));
  await responder.close();

  // Prometheus: one check answered every minute over the range, so only the journals can fail it.
  const history = new History();
  const agent = new SimAgent(history, agentTarget("kpn-ams-1"));
  agent.declare([KPN_VOIP]);
  // A receiver too: without one the national test at 10:00Z would be a problem of its own.
  agent.declareModems([{ modem: "m-kpn-1", operator: "kpn", region: "amsterdam" }]);
  for (let m = -60; m <= 360; m++) {
    agent.call(KPN_VOIP.check, { outcome: "answered", srd: 0.3 });
    if (m === 181) agent.alertFirstSeen("m-kpn-1", "nl_test", T0 + 180 * 60 + 30);
    agent.scrape(T0 + m * 60);
  }
  prom = await startPrometheusOnTsdb(await createTsdb(history.toFamilies()));
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const KEYS = () => ["--key", pub.kpn, "--key", pub.vz, "--key", pub.responder];
const withJournals = (agentKpn = kpnDir, keys = KEYS(), extra: string[] = []) => [
  "--prometheus",
  prom.url,
  ...RANGE,
  "--journal",
  agentKpn,
  "--journal",
  vzDir,
  "--journal",
  responderDir,
  ...keys,
  ...extra,
];

/** A copy of kpn-ams-1's journal directory, changed by `edit` (its lines, without newlines). */
function tampered(name: string, edit: (lines: string[]) => string[] | string): { dir: string; file: string } {
  const to = join(dir, `tampered-${name}`);
  mkdirSync(to);
  for (const f of readdirSync(kpnDir)) copyFileSync(join(kpnDir, f), join(to, f));
  const file = join(to, "agent-2026-06-01.jsonl");
  const out = edit(readFileSync(file, "utf8").trimEnd().split("\n"));
  writeFileSync(file, typeof out === "string" ? out : `${out.join("\n")}\n`);
  return { dir: to, file };
}

describe("intact journals", () => {
  it("are verified against their keys, cross-confirmed, and the report exits 0", async () => {
    const r = await runReport(dir, withJournals());
    expect(r.code, r.stderr).toBe(0);
    const m = r.model!;
    expect(m.evidenceIntact).toBe(true);
    expect(m.problems).toEqual([]);
    expect(
      m.journals.map((j) => ({
        journal: j.journal,
        path: j.path,
        records: j.records,
        signed: j.signed,
        ok: j.ok,
      })),
    ).toEqual([
      { journal: "agent", path: kpnDir, records: 6, signed: 6, ok: true },
      { journal: "agent", path: vzDir, records: 2, signed: 2, ok: true },
      { journal: "responder", path: responderDir, records: 6, signed: 6, ok: true },
    ]);
    expect(m.journals.every((j) => j.keyId !== null)).toBe(true);
    const c = m.crossConfirmation!;
    // Answered with identity ok inside the range: t1, t2, t5, t6 (kpn) and t3 (vz); t0 is
    // before the range. Receipts for all but t2.
    expect(c.expectedAtResponder).toBe(5);
    expect(c.confirmed).toBe(4);
    expect(c.answeredWithoutReceipt.map((x) => [x.agent, x.check, x.token])).toEqual([
      ["kpn-ams-1", "kpn-mobile.test-112", "t2"],
    ]);
    expect(c.receiptsWithoutAgent.map((x) => [x.agent, x.path, x.token])).toEqual([
      ["kpn-ams-1", "kpn-voip", "t9"],
    ]);
    expect(c.callerIdMismatches.map((x) => [x.token, x.received, x.declared])).toEqual([
      ["t3", "+31209999999", "+31201110001"],
    ]);
  });

  it("the HTML shows the findings and the integrity of each journal", async () => {
    const r = await runReport(dir, withJournals(), "html");
    expect(r.code, r.stderr).toBe(0);
    const text = htmlText(readFileSync(r.file!, "utf8"));
    expect(text).toContain("Evidence intact: 3 journal(s) verified");
    expect(text).toContain("4 of 5 answered test calls were confirmed by the answering point's own journal.");
    expect(text).toMatch(
      /Answered without a receipt .* 1 2026-06-01T08:11:00\.000Z kpn-mobile\.test-112 token t2/,
    );
    expect(text).toMatch(/Receipts without an agent record 1 2026-06-01T10:15:00\.000Z kpn-ams-1\/kpn-voip/);
    expect(text).toMatch(/Caller-ID mismatches 1 .*received \+31209999999, declared \+31201110001/);
    expect(text.match(/ intact /g)).toHaveLength(3);
  });

  it("a stray .jsonl file beside a journal is neither verified nor believed: it confirms nothing", async () => {
    const to = join(dir, "responder-with-stray");
    mkdirSync(to);
    for (const f of readdirSync(responderDir)) copyFileSync(join(responderDir, f), join(to, f));
    // An unsealed "receipt" for t2, the call answered in the answering point's name.
    const forged = { type: "test_call", ...receipt("t2", "kpn-ams-1", "kpn-mobile", iso(8, 11, 0, 300)) };
    writeFileSync(join(to, "forged.jsonl"), `${JSON.stringify(forged)}\n`);
    const r = await runReport(dir, [
      "--prometheus",
      prom.url,
      ...RANGE,
      "--journal",
      kpnDir,
      "--journal",
      vzDir,
      "--journal",
      to,
      ...KEYS(),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.model!.crossConfirmation!.answeredWithoutReceipt.map((x) => x.token)).toEqual(["t2"]);
    expect(r.model!.journals.find((j) => j.path === to)).toMatchObject({ records: 6, ok: true });
  });

  it("without --key the chains are checked, and the report says the signatures were not", async () => {
    const r = await runReport(dir, withJournals(kpnDir, []));
    expect(r.code, r.stderr).toBe(0);
    expect(r.model!.problems).toEqual([
      "no --key given: the journals' hash chains were checked, their signatures were not",
    ]);
    expect(r.model!.journals.map((j) => j.keyId)).toEqual([null, null, null]);
  });
});

describe("broken evidence: exit 1, the journal and the line named", () => {
  const cases: Array<{
    what: string;
    edit: (l: string[]) => string[] | string;
    kind: string;
    line: number;
    keys?: () => string[];
  }> = [
    {
      // t1 answered → answerex: one byte of line 2. Its signature no longer matches.
      what: "one byte changed",
      edit: (l) => l.map((x, i) => (i === 1 ? x.replace('"outcome":"answered"', '"outcome":"answerex"') : x)),
      kind: "edited",
      line: 2,
    },
    {
      what: "one line deleted",
      edit: (l) => l.filter((_, i) => i !== 2),
      kind: "removed",
      line: 3,
    },
    {
      what: "two lines swapped",
      edit: (l) => [l[0]!, l[1]!, l[3]!, l[2]!, l[4]!, l[5]!],
      kind: "reordered",
      line: 3,
    },
    {
      // A torn write: half of the last line, no newline.
      what: "a truncated last line",
      edit: (l) => `${l.slice(0, 5).join("\n")}\n${l[5]!.slice(0, Math.floor(l[5]!.length / 2))}`,
      kind: "unparseable",
      line: 6,
    },
    {
      // The kpn journal checked against keys none of which is kpn's.
      what: "the wrong key",
      edit: (l) => l,
      kind: "unknown_key",
      line: 1,
      keys: () => ["--key", pub.stranger, "--key", pub.vz, "--key", pub.responder],
    },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const t = tampered(c.what.replace(/\W+/g, "-"), c.edit);
      const r = await runReport(dir, withJournals(t.dir, (c.keys ?? KEYS)()));
      expect(r.code, r.stderr).toBe(1);
      const m = r.model!;
      expect(m.evidenceIntact).toBe(false);
      const j = m.journals.find((x) => x.path === t.dir)!;
      expect(j.ok).toBe(false);
      expect(j.problems[0]).toMatchObject({ file: t.file, line: c.line, kind: c.kind });
      // The other journals stay intact.
      expect(m.journals.filter((x) => x.path !== t.dir).every((x) => x.ok)).toBe(true);
      // First among the problems, on stderr too: which journal, where, what.
      const first = `journal "agent" at ${t.dir} is BROKEN:`;
      expect(m.problems[0]).toMatch(
        new RegExp(
          `^${literal(first)} \\d+ problem\\(s\\), first ${c.kind} at ${literal(t.file)}:${c.line}$`,
        ),
      );
      expect(printedProblems(r)[0]).toBe(m.problems[0]);
    });
  }

  it("a broken answering-point journal is named the same way", async () => {
    const to = join(dir, "tampered-responder");
    mkdirSync(to);
    const [f] = readdirSync(responderDir);
    const lines = readFileSync(join(responderDir, f!), "utf8").trimEnd().split("\n");
    // The caller-ID mismatch of t3 "corrected" after the fact.
    lines[1] = lines[1]!.replace('"check":"mismatch"', '"check":"match"');
    writeFileSync(join(to, f!), `${lines.join("\n")}\n`);
    const r = await runReport(dir, [
      "--prometheus",
      prom.url,
      ...RANGE,
      "--journal",
      kpnDir,
      "--journal",
      vzDir,
      "--journal",
      to,
      ...KEYS(),
    ]);
    expect(r.code).toBe(1);
    expect(r.model!.journals.find((j) => j.path === to)!.problems[0]).toMatchObject({
      kind: "edited",
      line: 2,
      file: join(to, f!),
    });
    expect(r.model!.problems[0]).toContain(`journal "responder" at ${to} is BROKEN`);
  });

  it("a journal path that does not exist: evidence asked for and missing, exit 1", async () => {
    const r = await runReport(dir, withJournals(join(dir, "no-such-journal")));
    expect(r.code).toBe(1);
    expect(r.model!.problems.join("\n")).toMatch(/no-such-journal could not be read \(ENOENT\)/);
  });

  it("the HTML says the evidence is broken and marks the journal", async () => {
    const t = tampered("html", (l) => l.filter((_, i) => i !== 2));
    const r = await runReport(dir, withJournals(t.dir), "html");
    expect(r.code).toBe(1);
    const html = readFileSync(r.file!, "utf8");
    expect(html).toContain('<div class="verdict bad">EVIDENCE BROKEN');
    const text = htmlText(html);
    expect(text).toContain(`removed at ${t.file}:3: record 3 is missing`);
    expect(text).toMatch(/BROKEN/);
  });
});

/** A string as a literal inside a RegExp. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
