import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import { type BaresipInstance, startBaresip } from "../support/baresip.js";
import { call, traceLines } from "../support/call.js";
import { uniqueLoopback } from "../support/ports.js";

// Real peer: Debian's baresip 1.0.0, headless, answers our probe calls with real RTP and RTCP.
//
// Where baresip listens matters for media. It binds its RTP and RTCP sockets to the wildcard
// address and writes net_interface into its SDP; on loopback the kernel sends its packets from
// 127.0.0.1 whatever 127.x.y.z it advertises. So baresip gets 127.0.0.1 (its datagrams then
// come from the address its SDP names, as from a host with one address) and the probe a
// loopback address of its own; the last test covers a baresip that advertises another address.

const probeIp = uniqueLoopback();
const BARESIP_IP = "127.0.0.1";

/** baresip sends its first RTCP report 5 s into the call, then every 5 s. */
const HOLD_FOR_FIRST_RTCP_S = 6.5;

function mediaOf(r: TestCallResult) {
  expect(r.media).not.toBeNull();
  return r.media!;
}

describe("a baresip softphone answering our probe call (sends a sine, does not echo)", () => {
  let far: BaresipInstance;
  let r: TestCallResult;
  let stats: Awaited<ReturnType<BaresipInstance["waitForCallEnd"]>>;

  beforeAll(async () => {
    far = await startBaresip({ ip: BARESIP_IP, mode: "softphone" });
    r = await call(far.target, {
      media: "loopback",
      holdSeconds: HOLD_FOR_FIRST_RTCP_S,
      localAddress: probeIp,
    });
    stats = await far.waitForCallEnd();
  });

  afterAll(async () => {
    await far?.stop();
  });

  it("answers, and takes G.711 A-law, the first codec we offer; we hang up and it accepts our BYE", () => {
    expect(r.outcome).toBe("answered");
    expect(r.finalStatus).toBe(200);
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 180 Ringing",
      "< 200 Answering",
      "> ACK",
      "> BYE",
      "< 200 OK",
    ]);
    expect(r.hangup).toBe("local");
    expect(r.byeStatus).toBe(200);
    const m = mediaOf(r);
    expect(m.codec).toBe("PCMA");
    // baresip knows nothing of RFC 6849: a plain answer, so the probe checks for a plain echo.
    expect(m.loopback).toBe(false);
  });

  it("sends RTP of its own, and we receive every packet it sent until our BYE", () => {
    const m = mediaOf(r);
    expect(m.packets.received).toBeGreaterThan(0);
    expect(m.packets.lost).toBe(0);
    expect(m.packets.duplicates).toBe(0);
    expect(m.rejects).toEqual({
      unexpectedSource: 0,
      unexpectedSsrc: 0,
      wrongPayloadType: 0,
      malformedRtp: 0,
      malformedRtcp: 0,
    });
    // It stops sending when our BYE arrives and we close the socket on its 200: at most a
    // packet or two can be in flight in between, none can be invented.
    expect(m.packets.received).toBeLessThanOrEqual(stats.transmit.packets);
    expect(m.packets.received).toBeGreaterThanOrEqual(stats.transmit.packets - 2);
  });

  it("receives our whole stream, as its own statistics and its RTCP receiver reports say", () => {
    const m = mediaOf(r);
    // We stop sending before the BYE, so everything we sent reached it (loopback drops nothing).
    expect(stats.receive.packets).toBe(m.packets.sent);
    expect(stats.receive.lost).toBe(0);
    expect(m.rtcp!.reportsReceived).toBeGreaterThanOrEqual(1);
    expect(m.rtcp!.farEnd).not.toBeNull();
    expect(m.rtcp!.farEnd!.cumulativeLost).toBe(0);
    expect(m.rtcp!.farEnd!.fractionLost).toBe(0);
    // Its report at 5 s sees our 20 ms clock; the estimator gains 1/16 of each deviation, so
    // even a 100 ms event-loop stall on a busy machine would show as about 6 ms.
    expect(m.rtcp!.farEnd!.jitterSeconds).toBeLessThan(0.01);
    // Round trip from our SR to its RR: microseconds on loopback, plus the scheduling delay of
    // two user-space processes, which reaches milliseconds on a loaded two-core machine.
    expect(m.rtcp!.rttSeconds).not.toBeNull();
    expect(m.rtcp!.rttSeconds!).toBeLessThan(0.05);
  });

  it("is one_way: the far end sends media, but not ours back", () => {
    const m = mediaOf(r);
    expect(m.verdict).toBe("one_way");
    expect(m.returned.frames).toBe(0);
    expect(m.reason).toMatch(/^the far end sends media, but not ours back \(\d+ packets received\)/);
    expect(r.success).toBe(false);
  });

  it("does not rate a loop that does not exist: no quality estimate when none of our frames came back", () => {
    // Both directions arrived whole (see above); a MOS computed as if every frame had been lost
    // would report a quality problem where there is only a far end that does not echo.
    expect(mediaOf(r).quality).toBeNull();
  });

  it("received our in-band token *<token># as RFC 4733 events, as its log and its events show", () => {
    const digits = `*${r.token}#`;
    expect(mediaOf(r).dtmf.sent).toBe(digits);
    expect(far.loggedDigits()).toBe(digits);
    const started = far
      .events()
      .filter((e) => e.type === "CALL_DTMF_START")
      .map((e) => e.param)
      .join("");
    expect(started).toBe(digits);
  });
});

describe("baresip hanging up first", () => {
  let far: BaresipInstance | undefined;

  afterAll(async () => {
    await far?.stop();
  });

  it("its BYE (sent on a /hangup through ctrl_tcp) is answered with 200, and the call ends there", async () => {
    // A µ-law-only softphone: the answer's codec is what we run, not our first choice.
    far = await startBaresip({ ip: BARESIP_IP, mode: "softphone", codecs: ["PCMU"] });
    const pending = call(far.target, { media: "loopback", holdSeconds: 10, localAddress: probeIp });
    await far.waitForEvent("CALL_ESTABLISHED");
    // Long enough for media to flow both ways before it hangs up.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await far.command("hangup")).toMatchObject({ ok: true });
    const r = await pending;
    await far.waitForCallEnd();

    expect(r.outcome).toBe("answered");
    expect(r.hangup).toBe("remote");
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 180 Ringing",
      "< 200 Answering",
      "> ACK",
      "< BYE",
      "> 200 OK",
    ]);
    // It got our 200 at once: no BYE was resent.
    expect(r.retransmissions.received).toBe(0);
    expect(r.timings.sdd).toBeNull();
    expect(r.timings.duration!).toBeGreaterThan(0.75);
    expect(r.timings.duration!).toBeLessThan(2);
    const m = mediaOf(r);
    expect(m.codec).toBe("PCMU");
    expect(m.packets.received).toBeGreaterThan(20);
    expect(m.rejects?.wrongPayloadType).toBe(0);
  });
});

describe("baresip's echo module as the far end (decodes, bridges and re-encodes what it hears)", () => {
  const started: BaresipInstance[] = [];

  afterAll(async () => {
    await Promise.all(started.map((b) => b.stop()));
  });

  it("returns our marked frames: verdict ok, and our token comes back as RFC 4733 digits", async () => {
    const far = await startBaresip({ ip: BARESIP_IP, mode: "echo", echoDeviceRate: 8000 });
    started.push(far);
    const r = await call(far.target, { media: "loopback", holdSeconds: 3.5, localAddress: probeIp });
    const stats = await far.waitForCallEnd();

    expect(r.outcome).toBe("answered");
    const m = mediaOf(r);
    expect(m.verdict).toBe("ok");
    expect(r.success).toBe(true);
    expect(m.reason).toMatch(/marked frames came back \(no RFC 6849 mirror: checked as plain echo\)$/);
    // The bridge starts after our first frames arrive, and frames still in its jitter buffer
    // when we stop are cut off by the BYE: most, not all, come back.
    expect(m.returned.share!).toBeGreaterThanOrEqual(0.8);
    // Through its jitter buffer and the bridge thread: tens of ms, never the seconds of a stall.
    expect(m.returned.rttSeconds!).toBeGreaterThan(0);
    expect(m.returned.rttSeconds!).toBeLessThan(0.3);
    expect(m.quality).not.toBeNull();
    expect(stats.receive.packets).toBe(m.packets.sent);
    expect(m.dtmf.received).toBe(m.dtmf.sent);
    expect(far.loggedDigits()).toBe(`*${r.token}#`);
  });

  it("returns our frames through a 48 kHz device too, resampled twice: still recognised as ours (ok)", async () => {
    // The resampler delays the audio by a few samples, so our markers no longer start at the
    // first sample of a payload. They are intact otherwise: it is still our audio coming back.
    const far = await startBaresip({ ip: BARESIP_IP, mode: "echo", echoDeviceRate: 48000 });
    started.push(far);
    const r = await call(far.target, { media: "loopback", holdSeconds: 2, localAddress: probeIp });
    await far.waitForCallEnd();

    const m = mediaOf(r);
    expect(m.packets.received).toBeGreaterThan(0);
    expect(m.verdict).toBe("ok");
  });
});

describe("baresip advertising its own loopback address, sending from another", () => {
  let far: BaresipInstance | undefined;

  afterAll(async () => {
    await far?.stop();
  });

  it("its RTP, from the port its SDP names but from 127.0.0.1, still counts as its media (one_way, not none)", async () => {
    // Like a multi-homed host whose RTP socket is bound to the wildcard: the source address
    // follows the routing table, not the c= line; the port is the one negotiated.
    far = await startBaresip({ ip: uniqueLoopback(), mode: "softphone" });
    const r = await call(far.target, {
      media: "loopback",
      holdSeconds: 1,
      dtmfToken: false,
      localAddress: probeIp,
    });
    const stats = await far.waitForCallEnd();

    expect(r.outcome).toBe("answered");
    expect(stats.transmit.packets).toBeGreaterThan(20);
    const m = mediaOf(r);
    expect(m.packets.received).toBeGreaterThan(0);
    expect(m.verdict).toBe("one_way");
  });
});
