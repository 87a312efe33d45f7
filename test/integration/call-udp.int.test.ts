import { describe, expect, it } from "vitest";
import { call, traceLines } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type SippResult, startSipp } from "../support/sipp.js";

// Real peer: SIPp from Debian's sip-tester answers as the far end; our engine calls it over UDP.

const ip = uniqueLoopback();

async function sippUas(scenario: string, keys: Record<string, string> = {}, timeoutS = 20) {
  const port = await freePort("udp", ip);
  const sipp = startSipp({ scenario, role: "uas", transport: "u1", ip, port, keys, timeoutS });
  await sipp.ready;
  return { sipp, target: `sip:112@${ip}:${port}`, port };
}

/** Asserts that SIPp saw the call it expected (every required message arrived) and exited 0. */
async function sippHappy(sipp: { expectSuccess(): Promise<SippResult> }): Promise<SippResult> {
  return sipp.expectSuccess();
}

describe("UDP test calls against SIPp", () => {
  it("answered after 180: every RFC 6076 timing matches the delays the far end was told to take", async () => {
    const { sipp, target } = await sippUas("uas-answer", { ring_ms: "300", answer_ms: "500" });
    const r = await call(target, { holdSeconds: 0.6 });
    await sippHappy(sipp);
    expect(r.outcome).toBe("answered");
    expect(r.finalStatus).toBe(200);
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 100 Trying",
      "< 180 Ringing",
      "< 200 OK",
      "> ACK",
      "> BYE",
      "< 200 OK",
    ]);
    const t = r.timings;
    expect(t.firstResponse).toBeLessThan(0.1);
    expect(t.srd).toBeGreaterThan(0.28);
    expect(t.srd).toBeLessThan(0.45);
    expect(t.answer).toBeGreaterThan(0.78);
    expect(t.answer).toBeLessThan(0.95);
    expect(t.sdd).toBeLessThan(0.1);
    expect(t.duration).toBeGreaterThan(0.59);
    expect(t.duration).toBeLessThan(0.8);
    expect(r.media).toMatchObject({ codec: "PCMA" });
    expect(r.hangup).toBe("local");
    expect(r.byeStatus).toBe(200);
    expect(r.retransmissions).toEqual({ sent: {}, received: 0 });
  });

  it("answered, but the overall timeout runs out during the hold: a timeout, never a success", async () => {
    const { sipp, target } = await sippUas("uas-answer", { ring_ms: "0", answer_ms: "0" });
    try {
      const r = await call(target, { holdSeconds: 3, timeoutSeconds: 1.5 });
      expect(r.finalStatus).toBe(200);
      expect(r.outcome).toBe("timeout");
      expect(r.reason).toMatch(/^answered, but still up when the timeout of 1\.5 s ran out/);
    } finally {
      await sipp.stop();
    }
  });

  it("sends the SDP offer with PCMA first, the probe token header and a real sent-by with rport", async () => {
    const { sipp, target } = await sippUas("uas-answer", { ring_ms: "0", answer_ms: "0" });
    const r = await call(target, { token: "tok-123", pAssertedIdentity: "sip:+31201234567@probe.example" });
    const s = await sippHappy(sipp);
    const invite = s.messageLog.split("INVITE sip:")[1] ?? "";
    expect(invite).toMatch(/m=audio \d+ RTP\/AVP 8 0 101/);
    expect(invite).toContain("X-Probe112-Token: tok-123");
    expect(invite).toContain("P-Asserted-Identity: <sip:+31201234567@probe.example>");
    const local = r.local!;
    // The sent-by carries our real port and asks for rport (RFC 3581): SIP.js alone writes neither.
    expect(invite).toContain(`Via: SIP/2.0/UDP ${local};branch=`);
    expect(invite).toMatch(/;rport/);
    expect(invite).toMatch(
      new RegExp(`Contact: <sip:probe112@${local.replace(/\./g, "\\.")};transport=udp>`),
    );
  });

  it("answered with 183 early media: SRD is the 183", async () => {
    const { sipp, target } = await sippUas("uas-answer-183", { early_ms: "150", answer_ms: "250" });
    const r = await call(target);
    await sippHappy(sipp);
    expect(r.outcome).toBe("answered");
    expect(r.timings.srd).toBeGreaterThan(0.13);
    expect(r.timings.srd).toBeLessThan(0.3);
    expect(r.timings.answer).toBeGreaterThan(0.38);
  });

  it("answered with no provisional at all: SRD equals the answer, and Timer A resends the INVITE at T1", async () => {
    const { sipp, target } = await sippUas("uas-answer-direct", { answer_ms: "800" });
    const r = await call(target);
    await sippHappy(sipp);
    expect(r.outcome).toBe("answered");
    expect(r.timings.srd).toBe(r.timings.answer);
    expect(r.timings.firstResponse).toBe(r.timings.answer);
    const resent = r.trace.filter((e) => e.method === "INVITE" && e.timer === "A");
    expect(resent).toHaveLength(1);
    expect(resent[0]!.t).toBeGreaterThan(0.48);
    expect(resent[0]!.t).toBeLessThan(0.6);
    expect(r.retransmissions.sent).toEqual({ INVITE: 1 });
  });

  it.each([
    ["486", "Busy Here", "busy"],
    ["404", "Not Found", "client_error"],
    ["503", "Service Unavailable", "network_failure"],
    ["480", "Temporarily Unavailable", "no_answer"],
    ["603", "Decline", "declined"],
    ["500", "Server Internal Error", "network_failure"],
    ["502", "Bad Gateway", "server_error"],
  ])(
    "a %s final response ends in %s (ACKed, so SIPp stops retransmitting)",
    async (code, reason, outcome) => {
      const { sipp, target } = await sippUas("uas-reject", {
        reject_code: code,
        reject_reason: reason,
        reject_ms: "100",
      });
      const r = await call(target);
      await sippHappy(sipp);
      expect(r.outcome).toBe(outcome);
      expect(r.finalStatus).toBe(Number(code));
      expect(r.reason).toContain(code);
      expect(r.timings.srd).toBeGreaterThan(0.09);
      expect(r.timings.answer).toBeNull();
      expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK"]);
    },
  );

  it("no answer: the ring timeout CANCELs and the 487 makes it no_answer", async () => {
    const { sipp, target } = await sippUas("uas-no-answer", { ring_ms: "100" });
    const r = await call(target, { ringTimeoutSeconds: 1 });
    await sippHappy(sipp);
    expect(r.outcome).toBe("no_answer");
    expect(r.finalStatus).toBe(487);
    expect(r.reason).toMatch(/ring timeout of 1 s: CANCEL sent, 487/);
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 100 Trying",
      "< 180 Ringing",
      "> CANCEL",
      "< 200 OK",
      "< 487 Request Terminated",
      "> ACK",
    ]);
    const cancel = r.trace.find((e) => e.method === "CANCEL")!;
    expect(cancel.t).toBeGreaterThan(0.95);
    expect(cancel.t).toBeLessThan(1.2);
  });

  it("401 on INVITE: the digest retry is answered; the challenge does not count as SRD", async () => {
    const { sipp, target } = await sippUas("uas-auth-invite", {
      auth_user: "probe",
      auth_password: "s3cret",
    });
    const r = await call(target, { credentials: { username: "probe", password: "s3cret" } });
    await sippHappy(sipp);
    expect(r.outcome).toBe("answered");
    expect(r.authChallenges).toBe(1);
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> INVITE", "> ACK", "> BYE"]);
    const retry = r.trace.filter((e) => e.method === "INVITE")[1]!;
    expect(retry.message).toMatch(/Authorization: Digest .*username="probe"/);
    expect(r.timings.srd).toBeGreaterThan(r.trace.find((e) => e.status === 401)!.t);
  });

  it("401 with a wrong password: the far end refuses, the call fails and the password is never in the trace", async () => {
    const { sipp, target } = await sippUas("uas-auth-invite", { auth_user: "probe", auth_password: "right" });
    const r = await call(target, { credentials: { username: "probe", password: "wrong-pw" } });
    await sippHappy(sipp);
    expect(r.outcome).toBe("client_error");
    expect(r.finalStatus).toBe(403);
    expect(JSON.stringify(r)).not.toContain("wrong-pw");
  });

  it("401 without credentials is an auth_failure", async () => {
    const { sipp, target } = await sippUas("uas-auth-invite");
    const r = await call(target);
    await sipp.stop();
    expect(r.outcome).toBe("auth_failure");
    expect(r.finalStatus).toBe(401);
  });

  it("407 on BYE: the BYE is retried with Proxy-Authorization and SDD spans both", async () => {
    const { sipp, target } = await sippUasForByeAuth();
    const r = await call(target, { credentials: { username: "probe112", password: "pw-bye" } });
    await sippHappy(sipp);
    expect(r.outcome).toBe("answered");
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> BYE", "> BYE"]);
    const byes = r.trace.filter((e) => e.method === "BYE");
    expect(byes[1]!.message).toMatch(/Proxy-Authorization: Digest /);
    expect(r.byeStatus).toBe(200);
    const final = r.trace.filter((e) => e.cseqMethod === "BYE" && e.status === 200)[0]!;
    expect(r.timings.sdd).toBeCloseTo(final.t - byes[0]!.t, 5);
  });

  it("the far end hangs up first: we answer its BYE and the duration ends there", async () => {
    const { sipp, target } = await sippUas("uas-bye-first", { hangup_ms: "400" });
    const r = await call(target, { holdSeconds: 5 });
    await sippHappy(sipp);
    expect(r.outcome).toBe("answered");
    expect(r.hangup).toBe("remote");
    expect(traceLines(r)).toEqual(["> INVITE", "< 100 Trying", "< 200 OK", "> ACK", "< BYE", "> 200 OK"]);
    expect(r.timings.duration).toBeGreaterThan(0.38);
    expect(r.timings.duration).toBeLessThan(0.7);
    expect(r.timings.sdd).toBeNull();
    expect(r.timings.total).toBeLessThan(2);
  });

  it("a far end that never answers: timeout after the configured time, INVITE resent by Timer A", async () => {
    const { sipp, target } = await sippUas("uas-silent", { hold_ms: "4000" });
    const r = await call(target, { timeoutSeconds: 2 });
    await sipp.stop();
    expect(r.outcome).toBe("timeout");
    expect(r.reason).toMatch(/no final response within 2 s \(INVITE sent 3 times\)/);
    expect(r.timings.total).toBeGreaterThan(1.99);
    expect(r.timings.total).toBeLessThan(3.2);
    expect(r.trace.filter((e) => e.method === "INVITE").map((e) => Math.round(e.t * 10) / 10)).toEqual([
      0, 0.5, 1.5,
    ]);
  });

  it("a 200 with two Vias is dropped (RFC 3261 §8.1.3.3) and reported, not accepted", async () => {
    const { sipp, target } = await sippUas("uas-two-via");
    const r = await call(target, { timeoutSeconds: 2 });
    await sipp.stop();
    expect(r.outcome).toBe("timeout");
    expect(r.dropped.length).toBeGreaterThan(0);
    expect(r.dropped.every((d) => d.reason === "multiple_via")).toBe(true);
    expect(r.reason).toMatch(/unusable message\(s\) from the peer dropped \(multiple_via\)/);
    expect(r.trace.some((e) => e.dropped?.startsWith("multiple_via"))).toBe(true);
  });

  it("a 200 whose Content-Length exceeds its body is dropped as truncated", async () => {
    const { sipp, target } = await sippUas("uas-bad-content-length");
    const r = await call(target, { timeoutSeconds: 2 });
    await sipp.stop();
    expect(r.outcome).toBe("timeout");
    expect(r.dropped.map((d) => d.reason)).toContain("truncated");
    expect(
      r.trace
        .filter((e) => e.direction === "received" && e.cseqMethod === "INVITE" && e.dropped === undefined)
        .map((e) => e.status),
    ).toEqual([100]);
  });
});

async function sippUasForByeAuth() {
  const { expectedByeDigest } = await import("../support/sipp.js");
  const port = await freePort("udp", ip);
  const bye_response = expectedByeDigest({
    ip,
    port,
    transport: "u1",
    username: "probe112",
    password: "pw-bye",
  });
  const sipp = startSipp({
    scenario: "uas-auth-bye",
    role: "uas",
    transport: "u1",
    ip,
    port,
    keys: { bye_response },
  });
  await sipp.ready;
  return { sipp, target: `sip:112@${ip}:${port}` };
}
