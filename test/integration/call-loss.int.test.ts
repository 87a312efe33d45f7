import { afterEach, describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import { type CliRun, runCli } from "../support/call.js";
import {
  blackhole,
  createNetns,
  dropFirstUdpMatching,
  dropRandom,
  type Netns,
  type RuleCounter,
  ruleCounters,
} from "../support/netns.js";
import { type SippRun, sippLogEntries, sippStartLines, startSipp } from "../support/sipp.js";

// The RFC 3261 §17 retransmission layer under real packet loss. Each test gets a network
// namespace of its own, where iptables drops chosen packets; SIPp and the probe112 CLI both run
// inside it (in-process code cannot enter a namespace). The namespace has a loopback of its own,
// so fixed addresses and ports cannot collide with parallel test files.

const IP = "127.0.0.1";
const SIPP_PORT = 5060;
/** Our fixed UDP port (--local-port), so rules can single out packets sent to us. */
const OUR_PORT = 5070;
const TARGET = `sip:112@${IP}:${SIPP_PORT}`;
/** `every` for dropFirstUdpMatching: drop the first matching packet and no later one. */
const ONLY_THE_FIRST = 1_000_000;

let ns: Netns | undefined;

afterEach(async () => {
  await ns?.destroy();
  ns = undefined;
});

async function lossyNetns(): Promise<Netns> {
  ns = await createNetns();
  return ns;
}

async function sippUas(
  netns: Netns,
  scenario: string,
  keys: Record<string, string>,
  opts: { calls?: number; timeoutS?: number } = {},
): Promise<SippRun> {
  const sipp = startSipp({
    scenario,
    role: "uas",
    transport: "u1",
    ip: IP,
    port: SIPP_PORT,
    netns: netns.name,
    keys,
    calls: opts.calls ?? 1,
    timeoutS: opts.timeoutS ?? 20,
  });
  await sipp.ready;
  return sipp;
}

interface ProbeRun extends CliRun {
  /** Wall-clock time from spawning the CLI to its exit, in ms. */
  ms: number;
  result: TestCallResult;
}

/** Runs `probe112 call --json` inside the namespace; over UDP from our fixed port. */
async function probe(netns: Netns, args: string[] = [], transport: "udp" | "tcp" = "udp"): Promise<ProbeRun> {
  const local = ["--local-address", IP, ...(transport === "udp" ? ["--local-port", String(OUR_PORT)] : [])];
  const started = performance.now();
  const run = await runCli(["call", TARGET, "--json", "--transport", transport, ...local, ...args], {
    netns: netns.name,
  });
  const ms = performance.now() - started;
  if (!run.json) {
    expect.fail(
      `probe112 printed no JSON (exit ${run.code})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`,
    );
  }
  return { ...run, ms, result: run.json };
}

function dropRule(counters: RuleCounter[], text: string): RuleCounter {
  const rule = counters.find((c) => c.target === "DROP" && c.spec.includes(text));
  if (!rule) expect.fail(`no DROP rule matching ${text} in:\n${JSON.stringify(counters, null, 2)}`);
  return rule;
}

const sent = (r: TestCallResult, method: string) =>
  r.trace.filter((e) => e.direction === "sent" && e.method === method);

describe("UDP retransmissions under real packet loss (iptables in a network namespace)", () => {
  it("a lost first INVITE is resent by Timer A after T1 and answered; RFC 6076 times count from the lost original", async () => {
    const netns = await lossyNetns();
    await dropFirstUdpMatching(netns, { dport: SIPP_PORT, match: "INVITE sip", every: ONLY_THE_FIRST });
    const sipp = await sippUas(netns, "uas-answer", { ring_ms: "0", answer_ms: "0" });

    const { code, result: r } = await probe(netns, ["--hold", "0.2"]);
    const s = await sipp.expectSuccess();

    expect(r.outcome, r.reason).toBe("answered");
    expect(code).toBe(0);
    const invites = sent(r, "INVITE");
    expect(invites.map((e) => e.timer ?? null)).toEqual([null, "A"]);
    expect(invites[1]!.retransmission).toBe(true);
    expect(invites[1]!.t).toBeGreaterThan(0.48);
    expect(invites[1]!.t).toBeLessThan(0.6);
    expect(r.retransmissions.sent).toEqual({ INVITE: 1 });
    // RFC 6076 §4.3 measures from the first INVITE sent, lost or not: T1 is part of the delay.
    expect(r.timings.firstResponse).toBeGreaterThan(0.48);
    expect(r.timings.firstResponse).toBeLessThan(0.65);
    expect(dropRule(await ruleCounters(netns), "INVITE sip").packets).toBe(1);
    expect(sippStartLines(s.messageLog, "received").filter((l) => l.startsWith("INVITE"))).toHaveLength(1);
  });

  it("a lost BYE is resent by Timer E T1 after the first one; SDD spans the loss", async () => {
    const netns = await lossyNetns();
    await dropFirstUdpMatching(netns, { dport: SIPP_PORT, match: "BYE sip", every: ONLY_THE_FIRST });
    const sipp = await sippUas(netns, "uas-answer", { ring_ms: "0", answer_ms: "0" });

    const { code, result: r } = await probe(netns, ["--hold", "0.2"]);
    await sipp.expectSuccess();

    expect(r.outcome, r.reason).toBe("answered");
    expect(code).toBe(0);
    const byes = sent(r, "BYE");
    expect(byes.map((e) => e.timer ?? null)).toEqual([null, "E"]);
    expect(byes[1]!.t - byes[0]!.t).toBeGreaterThan(0.48);
    expect(byes[1]!.t - byes[0]!.t).toBeLessThan(0.6);
    expect(r.retransmissions.sent).toEqual({ BYE: 1 });
    expect(r.byeStatus).toBe(200);
    expect(r.timings.sdd).toBeGreaterThan(0.48);
    expect(r.timings.sdd).toBeLessThan(0.65);
    expect(dropRule(await ruleCounters(netns), "BYE sip").packets).toBe(1);
  });

  it("a lost ACK to a 486: SIPp resends the 486 (its Timer G), we ACK it again (Timer D is not 0) and still exit by ourselves", async () => {
    const netns = await lossyNetns();
    await dropFirstUdpMatching(netns, { dport: SIPP_PORT, match: "ACK sip", every: ONLY_THE_FIRST });
    const sipp = await sippUas(netns, "uas-reject", { reject_code: "486", reject_reason: "Busy Here" });

    const { code, ms, result: r } = await probe(netns);
    // SIPp's scenario only ends successfully once an ACK arrives: the second one, since the first was dropped.
    const s = await sipp.expectSuccess();

    expect(r.outcome, r.reason).toBe("busy");
    expect(r.finalStatus).toBe(486);
    expect(code).toBe(1);
    expect(dropRule(await ruleCounters(netns), "ACK sip").packets).toBe(1);
    expect(sippStartLines(s.messageLog, "sent").filter((l) => l.startsWith("SIP/2.0 486"))).toHaveLength(2);
    expect(sippStartLines(s.messageLog, "received").filter((l) => l.startsWith("ACK"))).toHaveLength(1);
    // The engine lingers 2 s for exactly this resend, then the process must end on its own;
    // SIP.js's own Timer D (32 s) must not keep it alive.
    expect(ms).toBeLessThan(8000);
    // The report must show what crossed the wire: both copies of the 486 and both ACKs.
    const busy = r.trace.filter((e) => e.direction === "received" && e.status === 486);
    expect(busy.map((e) => e.retransmission)).toEqual([false, true]);
    expect(busy[1]!.t - busy[0]!.t).toBeGreaterThan(0.45);
    expect(sent(r, "ACK")).toHaveLength(2);
    expect(r.retransmissions.received).toBe(1);
  });

  it("a lost 200 to our BYE: the BYE is resent by Timer E and the far end answers it again", async () => {
    const netns = await lossyNetns();
    // Only the BYE's 200 on its way back to us; the 200 to the INVITE (CSeq 1) passes.
    await dropFirstUdpMatching(netns, {
      dport: OUR_PORT,
      sport: SIPP_PORT,
      match: ["SIP/2.0 200 OK", "CSeq: 2 BYE"],
      every: ONLY_THE_FIRST,
    });
    // uas-answer-lossy keeps the call up after its 200, so SIPp can answer the resent BYE.
    const sipp = await sippUas(netns, "uas-answer-lossy", { linger_ms: "2000" });

    const { code, result: r } = await probe(netns, ["--hold", "0.2"]);
    const s = await sipp.expectSuccess();

    expect(r.outcome, r.reason).toBe("answered");
    expect(code).toBe(0);
    const byes = sent(r, "BYE");
    expect(byes.map((e) => e.timer ?? null)).toEqual([null, "E"]);
    expect(byes[1]!.t - byes[0]!.t).toBeGreaterThan(0.48);
    expect(byes[1]!.t - byes[0]!.t).toBeLessThan(0.6);
    const byeFinals = r.trace.filter((e) => e.direction === "received" && e.cseqMethod === "BYE");
    expect(byeFinals.map((e) => e.status)).toEqual([200]);
    expect(r.byeStatus).toBe(200);
    expect(r.timings.sdd).toBeGreaterThan(0.48);
    expect(r.timings.sdd).toBeLessThan(0.65);
    expect(dropRule(await ruleCounters(netns), "CSeq: 2 BYE").packets).toBe(1);
    // SIPp got the BYE twice and answered both.
    expect(sippStartLines(s.messageLog, "received").filter((l) => l.startsWith("BYE"))).toHaveLength(2);
    const byeAnswers = sippLogEntries(s.messageLog).filter(
      (e) => e.direction === "sent" && e.text.startsWith("SIP/2.0 200") && /^CSeq:\s*2 BYE$/m.test(e.text),
    );
    expect(byeAnswers).toHaveLength(2);
  });

  it("a blackholed UDP destination (no answer, no ICMP) ends as a timeout after --timeout, with exit code 1", async () => {
    const netns = await lossyNetns();
    // Nobody listens, and DROP keeps the kernel from answering with ICMP port unreachable.
    await blackhole(netns, { dport: SIPP_PORT, proto: "udp" });

    const { code, ms, result: r } = await probe(netns, ["--hold", "0.5", "--timeout", "2"]);

    expect(r.outcome).toBe("timeout");
    expect(code).toBe(1);
    expect(r.reason).toMatch(/^no final response within 2 s \(INVITE sent 3 times\)/);
    expect(r.finalStatus).toBeNull();
    expect(r.timings.total).toBeGreaterThanOrEqual(2);
    expect(r.timings.total).toBeLessThan(3);
    // Timer A: T1, then doubled. (The transaction may go on resending while the call lingers.)
    const invitesInTime = sent(r, "INVITE").filter((e) => e.t < 2);
    expect(invitesInTime.map((e) => Math.round(e.t * 10) / 10)).toEqual([0, 0.5, 1.5]);
    expect(r.trace.filter((e) => e.direction === "received")).toEqual([]);
    expect(dropRule(await ruleCounters(netns), `udp dpt:${SIPP_PORT}`).packets).toBeGreaterThanOrEqual(3);
    expect(ms).toBeLessThan(8000);
    // The ring timeout (30 s by default) was never reached: the reason must not claim it was.
    expect(r.reason).not.toMatch(/ring timeout/);
  });

  it("a blackholed TCP destination (SYN unanswered) ends as a timeout after --timeout, not a hang", async () => {
    const netns = await lossyNetns();
    await blackhole(netns, { dport: SIPP_PORT, proto: "tcp" });

    const { code, ms, result: r } = await probe(netns, ["--hold", "0.5", "--timeout", "2"], "tcp");

    expect(r.outcome, r.reason).toBe("timeout");
    expect(code).toBe(1);
    expect(r.reason).toMatch(/2 s/);
    expect(r.timings.total).toBeGreaterThanOrEqual(2);
    expect(r.timings.total).toBeLessThan(3);
    // No connection, so no INVITE ever left.
    expect(r.trace).toEqual([]);
    expect(dropRule(await ruleCounters(netns), `tcp dpt:${SIPP_PORT}`).packets).toBeGreaterThanOrEqual(1);
    expect(ms).toBeLessThan(8000);
  });

  it("10% random loss both ways: 20 calls in a row are all answered, retransmissions recover every loss", async () => {
    const netns = await lossyNetns();
    await dropRandom(netns, { dport: SIPP_PORT, probability: 0.1 });
    await dropRandom(netns, { dport: OUR_PORT, probability: 0.1 });
    const calls = 20;
    // uas-answer-lossy takes a BYE that overtakes a lost ACK, and lingers so that a BYE resent
    // after its 200 was lost is answered for as long as our --timeout lets us resend it.
    const sipp = await sippUas(
      netns,
      "uas-answer-lossy",
      { ring_ms: "0", answer_ms: "0", linger_ms: "16000" },
      { calls, timeoutS: 180 },
    );

    // Why all 20 must be answered: a call fails only if every copy of one exchange is lost.
    // SIPp sends the 200 up to 6 times (0.1^6 = 1e-6); within --timeout 20 our BYE goes out up to
    // 7 times and each round trip survives with p = 0.9² (0.19^7 ≈ 1e-6). So a correct engine
    // fails this test with p ≈ 1e-4 at most, while one loss the engine does not recover (p ≥ 0.1
    // per call) fails it with p ≥ 1 - 0.9^20 ≈ 0.88.
    const results: TestCallResult[] = [];
    for (let i = 0; i < calls; i++) {
      const { result } = await probe(netns, ["--hold", "0.1", "--timeout", "20"]);
      results.push(result);
    }
    await sipp.stop(500);

    const failed = results
      .map((r, i) => ({ call: i + 1, outcome: r.outcome, reason: r.reason }))
      .filter((r) => r.outcome !== "answered");
    expect(failed).toEqual([]);
    const resentByUs = results.reduce(
      (n, r) => n + Object.values(r.retransmissions.sent).reduce((a, b) => a + b, 0),
      0,
    );
    const resentByPeer = results.reduce((n, r) => n + r.retransmissions.received, 0);
    expect(resentByUs + resentByPeer).toBeGreaterThan(0);
    const counters = await ruleCounters(netns);
    // Loss really happened in both directions.
    expect(dropRule(counters, `udp dpt:${SIPP_PORT}`).packets).toBeGreaterThan(0);
    expect(dropRule(counters, `udp dpt:${OUR_PORT}`).packets).toBeGreaterThan(0);
  });
});
