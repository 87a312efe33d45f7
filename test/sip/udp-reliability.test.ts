import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseSipMessage, type SipMessageView } from "../../src/sip/sip-message.js";
import type { RetransmitTimer } from "../../src/sip/trace.js";
import { type Destination, UdpReliability } from "../../src/sip/udp-reliability.js";

const DEST: Destination = { host: "192.0.2.1", port: 5060 };

function request(method: string, branch = "z9hG4bK-1", cseqMethod = method, callId = "call-1"): string {
  return [
    `${method} sip:112@192.0.2.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 198.51.100.7:5060;branch=${branch};rport`,
    "From: <sip:probe@198.51.100.7>;tag=a",
    "To: <sip:112@192.0.2.1>",
    `Call-ID: ${callId}`,
    `CSeq: 1 ${cseqMethod}`,
    "Max-Forwards: 70",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

function response(status: number, cseqMethod: string, branch = "z9hG4bK-1", callId = "call-1"): string {
  return [
    `SIP/2.0 ${status} Whatever`,
    `Via: SIP/2.0/UDP 198.51.100.7:5060;branch=${branch};rport=5060`,
    "From: <sip:probe@198.51.100.7>;tag=a",
    "To: <sip:112@192.0.2.1>;tag=b",
    `Call-ID: ${callId}`,
    `CSeq: 1 ${cseqMethod}`,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

function view(text: string): SipMessageView {
  const v = parseSipMessage(text);
  if (v.kind === "error") throw new Error(v.reason);
  return v;
}

describe("UdpReliability (RFC 3261 §17 timers SIP.js lacks on UDP)", () => {
  let sent: Array<{ at: number; timer: RetransmitTimer; wire: string }>;
  let layer: UdpReliability;

  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    layer = new UdpReliability(
      (wire, _dest, timer) => sent.push({ at: Date.now(), timer, wire }),
      undefined,
      () => Date.now(),
    );
  });
  afterEach(() => {
    layer.stopAll();
    vi.useRealTimers();
  });

  const offsets = () => sent.map((s) => s.at - start);
  let start = 0;
  const send = (text: string) => {
    start = Date.now();
    layer.onSent(view(text), text, DEST);
  };

  it("case 1: Timer A resends an INVITE at T1, 2T1, 4T1 … without a T2 cap, and stops at Timer B", () => {
    send(request("INVITE"));
    vi.advanceTimersByTime(64 * 500 + 1000);
    expect(offsets()).toEqual([500, 1500, 3500, 7500, 15500, 31500]);
    expect(sent.every((s) => s.timer === "A")).toBe(true);
    expect(layer.active).toBe(0);
  });

  it("case 1: any response to the INVITE, even 100 Trying, stops Timer A", () => {
    send(request("INVITE"));
    vi.advanceTimersByTime(600);
    layer.onReceived(view(response(100, "INVITE")));
    vi.advanceTimersByTime(10_000);
    expect(offsets()).toEqual([500]);
  });

  it("case 2: Timer E doubles up to T2 for a BYE, then keeps T2 until Timer F", () => {
    send(request("BYE"));
    vi.advanceTimersByTime(64 * 500 + 1000);
    expect(offsets()).toEqual([500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(sent.every((s) => s.timer === "E")).toBe(true);
  });

  it("case 2: after a provisional, Timer E resends every T2; a final response stops it", () => {
    send(request("OPTIONS"));
    vi.advanceTimersByTime(600); // one resend at 500
    layer.onReceived(view(response(100, "OPTIONS")));
    vi.advanceTimersByTime(1000); // the pending resend at 1500 now waits T2 from then
    vi.advanceTimersByTime(8000);
    layer.onReceived(view(response(200, "OPTIONS")));
    vi.advanceTimersByTime(20_000);
    expect(offsets()).toEqual([500, 1500, 5500, 9500]);
  });

  it("case 3: CANCEL shares the INVITE branch but is its own transaction (keyed by CSeq method)", () => {
    send(request("INVITE"));
    layer.onSent(view(request("CANCEL")), request("CANCEL"), DEST);
    vi.advanceTimersByTime(600);
    expect(sent.map((s) => s.timer).sort()).toEqual(["A", "E"]);
    layer.onReceived(view(response(200, "CANCEL")));
    vi.advanceTimersByTime(1000);
    // INVITE still resends (its own Timer A at 1500), the CANCEL does not.
    expect(sent.filter((s) => s.timer === "E")).toHaveLength(1);
    expect(sent.filter((s) => s.timer === "A")).toHaveLength(2);
  });

  it("case 4: an ACK is never put on a timer", () => {
    send(request("ACK", "z9hG4bK-ack", "ACK"));
    vi.advanceTimersByTime(40_000);
    expect(sent).toEqual([]);
    expect(layer.active).toBe(0);
  });

  it("case 5: Timer G resends a 486 to an INVITE until the ACK with the INVITE's branch arrives", () => {
    send(response(486, "INVITE"));
    vi.advanceTimersByTime(5000);
    expect(offsets()).toEqual([500, 1500, 3500]);
    expect(sent.every((s) => s.timer === "G")).toBe(true);
    layer.onReceived(view(request("ACK", "z9hG4bK-1", "ACK")));
    vi.advanceTimersByTime(30_000);
    expect(sent).toHaveLength(3);
  });

  it("case 5: Timer G caps at T2 and gives up at Timer H (64·T1) without an ACK", () => {
    send(response(404, "INVITE"));
    vi.advanceTimersByTime(40_000);
    expect(offsets()).toEqual([500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(layer.active).toBe(0);
  });

  it("case 5: an ACK from another transaction does not stop Timer G", () => {
    send(response(486, "INVITE"));
    layer.onReceived(view(request("ACK", "z9hG4bK-other", "ACK")));
    layer.onReceived(view(request("ACK", "z9hG4bK-1", "ACK", "another-call")));
    vi.advanceTimersByTime(600);
    expect(sent).toHaveLength(1);
  });

  it("cases 6–8: 2xx and 1xx to INVITE and responses to non-INVITE get no timer", () => {
    send(response(200, "INVITE"));
    send(response(180, "INVITE"));
    send(response(200, "BYE"));
    send(response(481, "BYE"));
    vi.advanceTimersByTime(40_000);
    expect(sent).toEqual([]);
  });

  it("case 9: a digest retry is a new branch: the challenged INVITE stops, the retry starts afresh", () => {
    send(request("INVITE", "z9hG4bK-first"));
    layer.onReceived(view(response(401, "INVITE", "z9hG4bK-first")));
    vi.advanceTimersByTime(200);
    const retryAt = Date.now();
    layer.onSent(view(request("INVITE", "z9hG4bK-second")), request("INVITE", "z9hG4bK-second"), DEST);
    vi.advanceTimersByTime(2000);
    expect(sent.map((s) => s.at - retryAt)).toEqual([500, 1500]);
    expect(sent.every((s) => s.wire.includes("z9hG4bK-second"))).toBe(true);
  });

  it("case 10: stopAll cancels every running timer", () => {
    send(request("INVITE"));
    send(request("BYE", "z9hG4bK-2"));
    send(response(486, "INVITE", "z9hG4bK-3"));
    expect(layer.active).toBe(3);
    layer.stopAll();
    vi.advanceTimersByTime(40_000);
    expect(sent).toEqual([]);
  });

  it("case 11: responses are only observed: a retransmitted 200 after the timer stopped changes nothing", () => {
    send(request("INVITE"));
    layer.onReceived(view(response(200, "INVITE")));
    layer.onReceived(view(response(200, "INVITE")));
    vi.advanceTimersByTime(40_000);
    expect(sent).toEqual([]);
  });

  it("a message sent again with the same key does not start a second timer", () => {
    send(response(486, "INVITE"));
    layer.onSent(view(response(486, "INVITE")), response(486, "INVITE"), DEST);
    vi.advanceTimersByTime(600);
    expect(sent).toHaveLength(1);
  });

  it("keys include the Call-ID: equal branches of two calls are kept apart", () => {
    send(request("INVITE", "z9hG4bK-same", "INVITE", "call-a"));
    layer.onSent(
      view(request("INVITE", "z9hG4bK-same", "INVITE", "call-b")),
      request("INVITE", "z9hG4bK-same", "INVITE", "call-b"),
      DEST,
    );
    layer.onReceived(view(response(100, "INVITE", "z9hG4bK-same", "call-a")));
    vi.advanceTimersByTime(600);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.wire).toContain("call-b");
  });
});
