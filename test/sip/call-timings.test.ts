import { describe, expect, it } from "vitest";
import { computeTimings, countRetransmissions, inviteFinalResponse } from "../../src/sip/call-timings.js";
import type { TraceEntry } from "../../src/sip/trace.js";

let n = 0;
function e(
  at: number,
  direction: "sent" | "received",
  what: string,
  cseq: number,
  extra: Partial<TraceEntry> = {},
): TraceEntry {
  n++;
  const isStatus = /^\d{3}/.test(what);
  const [first, method] = what.split(" ");
  return {
    at,
    direction,
    transport: "UDP",
    local: "127.0.0.1:5000",
    remote: "127.0.0.1:5060",
    summary: what,
    ...(isStatus
      ? { status: Number(first), cseqMethod: method ?? "INVITE" }
      : { method: first, cseqMethod: first }),
    cseq,
    callId: "c1",
    retransmission: false,
    bytes: 100,
    message: `#${n}`,
    ...extra,
  };
}

describe("computeTimings (RFC 6076)", () => {
  it("measures every phase from the first INVITE, ignoring our retransmissions", () => {
    const trace = [
      e(1000, "sent", "INVITE", 1),
      e(1500, "sent", "INVITE", 1, { retransmission: true, timer: "A" }),
      e(1510, "received", "100 INVITE", 1),
      e(1800, "received", "180 INVITE", 1),
      e(3000, "received", "200 INVITE", 1),
      e(3001, "sent", "ACK", 1),
      e(5000, "sent", "BYE", 2),
      e(5012, "received", "200 BYE", 2),
    ];
    expect(computeTimings(trace, "c1")).toEqual({
      firstResponse: 0.51,
      srd: 0.8,
      answer: 2,
      sdd: 0.012,
      duration: 2,
    });
    expect(countRetransmissions(trace, "c1")).toEqual({ sent: { INVITE: 1 }, received: 0 });
  });

  it("without provisionals SRD is the final response; failures have no answer or duration", () => {
    const trace = [e(0, "sent", "INVITE", 1), e(250, "received", "486 INVITE", 1), e(251, "sent", "ACK", 1)];
    expect(computeTimings(trace, "c1")).toEqual({
      firstResponse: 0.25,
      srd: 0.25,
      answer: null,
      sdd: null,
      duration: null,
    });
    expect(inviteFinalResponse(trace, "c1")).toMatchObject({ status: 486 });
  });

  it("skips answered digest challenges for SRD, and measures SDD across a challenged BYE", () => {
    const trace = [
      e(0, "sent", "INVITE", 1),
      e(10, "received", "401 INVITE", 1),
      e(11, "sent", "ACK", 1),
      e(12, "sent", "INVITE", 2),
      e(20, "received", "100 INVITE", 2),
      e(100, "received", "183 INVITE", 2),
      e(900, "received", "200 INVITE", 2),
      e(2000, "sent", "BYE", 3),
      e(2005, "received", "407 BYE", 3),
      e(2006, "sent", "BYE", 4),
      e(2030, "received", "200 BYE", 4),
    ];
    const t = computeTimings(trace, "c1");
    expect(t.firstResponse).toBe(0.01);
    expect(t.srd).toBe(0.1);
    expect(t.answer).toBe(0.9);
    expect(t.sdd).toBe(0.03);
    expect(inviteFinalResponse(trace, "c1")).toMatchObject({ status: 200 });
  });

  it("a challenge that was not retried is the final response and counts for SRD", () => {
    const trace = [e(0, "sent", "INVITE", 1), e(30, "received", "407 INVITE", 1)];
    expect(computeTimings(trace, "c1").srd).toBe(0.03);
    expect(inviteFinalResponse(trace, "c1")).toMatchObject({ status: 407 });
  });

  it("duration ends at the far end's BYE when it hangs up first; dropped messages never count", () => {
    const trace = [
      e(0, "sent", "INVITE", 1),
      e(5, "received", "200 INVITE", 1, { dropped: "multiple_via: x" }),
      e(40, "received", "200 INVITE", 1),
      e(3040, "received", "BYE", 1),
    ];
    const t = computeTimings(trace, "c1");
    expect(t.answer).toBe(0.04);
    expect(t.duration).toBe(3);
    expect(t.sdd).toBeNull();
  });

  it("no INVITE sent → every timing null", () => {
    expect(computeTimings([], "c1")).toEqual({
      firstResponse: null,
      srd: null,
      answer: null,
      sdd: null,
      duration: null,
    });
  });
});
