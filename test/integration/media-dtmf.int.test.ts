import { describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import { call } from "../support/call.js";
import { type MediaUas, sdpOf, startMediaUas } from "../support/media.js";
import { uniqueLoopback } from "../support/ports.js";
import { startCapture } from "../support/tshark.js";

// The probe token goes in-band as RFC 4733 telephone-events after answer. What crossed the wire is
// decoded by tshark, not by our own receiver: the events are captured on their way to SIPp's
// media port, before SIPp's echo could hide a fault by returning whatever it got.

const ip = uniqueLoopback();

/** RFC 4733 §3.2, Table 3: DTMF event codes 0–15. */
const DTMF_EVENTS = "0123456789*#ABCD";
/** The telephone-event payload type our offer maps (a=rtpmap:101 telephone-event/8000). */
const EVENT_PT = 101;

interface WireEvent {
  timestamp: string;
  digit: string;
  packets: Array<{ marker: boolean; end: boolean; duration: number }>;
}

/**
 * Places a call to SIPp -rtp_echo while tshark captures what we send to its media port, and
 * returns the RTP packets tshark saw. Decode As names port and payload type explicitly: tshark
 * 4.0 happens to map 101 to rtpevent by default, but the test must not depend on that.
 */
async function callUnderCapture(
  opts: Parameters<typeof call>[1],
): Promise<{ r: TestCallResult; uas: MediaUas; rtp: Record<string, string>[] }> {
  const uas = await startMediaUas({ host: ip, echo: true });
  const capture = await startCapture({ filter: `udp and dst host ${ip} and dst port ${uas.mediaPort}` });
  const r = await call(uas.target, opts);
  await uas.sipp.expectSuccess();
  await capture.stop();
  const rtp = await capture.read({
    decodeAs: [`udp.port==${uas.mediaPort},rtp`, `rtp.pt==${EVENT_PT},rtpevent`],
    display: "rtp",
    fields: [
      "rtp.p_type",
      "rtp.seq",
      "rtp.timestamp",
      "rtp.marker",
      "rtp.ssrc",
      "rtpevent.event_id",
      "rtpevent.end_of_event",
      "rtpevent.duration",
    ],
  });
  capture.remove();
  return { r, uas, rtp };
}

/** Groups event packets into events by their RTP timestamp (RFC 4733 §2.5.1.3), in wire order. */
function eventsOf(rtp: Record<string, string>[]): WireEvent[] {
  const events: WireEvent[] = [];
  for (const p of rtp.filter((x) => Number(x["rtp.p_type"]) === EVENT_PT)) {
    const ts = p["rtp.timestamp"]!;
    let e = events.find((x) => x.timestamp === ts);
    const digit = DTMF_EVENTS[Number(p["rtpevent.event_id"])] ?? "?";
    if (!e) {
      e = { timestamp: ts, digit, packets: [] };
      events.push(e);
    }
    // One timestamp, one event: a changing code under the same timestamp would be a sender fault.
    if (e.digit !== digit) e.digit = `${e.digit}|${digit}`;
    e.packets.push({
      marker: p["rtp.marker"] === "1" || p["rtp.marker"] === "True",
      end: p["rtpevent.end_of_event"] === "1" || p["rtpevent.end_of_event"] === "True",
      duration: Number(p["rtpevent.duration"]),
    });
  }
  return events;
}

describe("the probe token in-band (RFC 4733), as tshark decodes it", () => {
  it("after answer the digits *<token># go out once each: one event per digit, marker on its first packet, the end packet sent three times", async () => {
    const token = "0123456789";
    const { r, rtp } = await callUnderCapture({ media: "loopback", token, holdSeconds: 1 });

    expect(r.outcome, r.reason).toBe("answered");
    expect(sdpOf(r, "offer")).toMatch(new RegExp(`^a=rtpmap:${EVENT_PT} telephone-event/8000$`, "m"));
    const events = eventsOf(rtp);
    expect(events.map((e) => e.digit).join("")).toBe(`*${token}#`);
    expect(r.media!.dtmf.sent).toBe(`*${token}#`);
    // 1 s was asked for; the hold stretched to fit 12 digits and the audio after them.
    expect(r.holdSeconds).toBeGreaterThan(2);
    expect(r.timings.duration).toBeGreaterThanOrEqual(r.holdSeconds!);
    for (const e of events) {
      expect(e.packets.filter((p) => p.marker)).toHaveLength(1);
      expect(e.packets[0]!.marker).toBe(true);
      const ends = e.packets.filter((p) => p.end);
      expect(ends).toHaveLength(3);
      // Durations grow until the end, which repeats the final duration (RFC 4733 §2.5.1.4).
      const durations = e.packets.map((p) => p.duration);
      expect(durations).toEqual([...durations].sort((a, b) => a - b));
      expect(new Set(ends.map((p) => p.duration)).size).toBe(1);
      expect(ends[0]!.duration).toBe(Math.max(...durations));
    }
    // Events ride on the audio stream: same SSRC as the marked frames, one sequence space.
    const ssrcs = new Set(rtp.map((p) => p["rtp.ssrc"]));
    expect(ssrcs.size).toBe(1);
    const seqs = rtp.map((p) => Number(p["rtp.seq"]));
    expect(seqs.slice(1).every((s, i) => s === ((seqs[i]! + 1) & 0xffff))).toBe(true);
    // Audio before and after the digits: the far end gets media around the token, too.
    const pts = rtp.map((p) => Number(p["rtp.p_type"]));
    expect(pts[0]).toBe(8);
    expect(pts.at(-1)).toBe(8);
  });

  it("a token with repeated digits keeps them as separate events (distinct timestamps)", async () => {
    const token = "1100229";
    const { rtp } = await callUnderCapture({ media: "echo", token, holdSeconds: 0.5 });

    const events = eventsOf(rtp);
    expect(events.map((e) => e.digit).join("")).toBe(`*${token}#`);
    const starts = events.map((e) => Number(e.timestamp));
    expect(new Set(starts).size).toBe(starts.length);
  });

  it("--no-dtmf-token sends audio only: no telephone-event packet on the wire, and the hold is not stretched", async () => {
    const { r, rtp } = await callUnderCapture({ media: "loopback", dtmfToken: false, holdSeconds: 1 });

    expect(r.outcome, r.reason).toBe("answered");
    expect(r.media!.dtmf).toEqual({ sent: null, received: "" });
    expect(r.holdSeconds).toBe(1);
    expect(rtp.filter((p) => Number(p["rtp.p_type"]) === EVENT_PT)).toEqual([]);
    // The capture did see our stream: an empty capture would pass the line above for nothing.
    expect(rtp.filter((p) => Number(p["rtp.p_type"]) === 8).length).toBe(r.media!.packets.sent);
    expect(r.media!.verdict).toBe("ok");
  });
});
