import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRtp } from "../../src/media/rtp-packet.js";
import { openRtpPortPair, type RtpPortPair } from "../../src/media/rtp-ports.js";
import { RtpSession } from "../../src/media/rtp-session.js";

// Two real sessions over loopback sockets: a probe and a mirror (what the responder will run).

const open: RtpPortPair[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

async function pair(probeTe = 101, mirrorTe = 101) {
  const a = await openRtpPortPair("127.0.0.1");
  const b = await openRtpPortPair("127.0.0.1");
  open.push(a, b);
  const digits: string[] = [];
  const probe = new RtpSession({
    ports: a,
    remote: { address: "127.0.0.1", port: b.port },
    payloadType: 8,
    telephoneEventPayloadType: probeTe,
    role: "probe",
    firstRtcpMs: 150,
    rtcpIntervalMs: 200,
  });
  const mirror = new RtpSession({
    ports: b,
    remote: { address: "127.0.0.1", port: a.port },
    payloadType: 8,
    telephoneEventPayloadType: mirrorTe,
    role: "mirror",
    firstRtcpMs: 100,
    rtcpIntervalMs: 200,
    onDigit: (d) => digits.push(d),
  });
  return { a, b, probe, mirror, digits };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("RtpSession", () => {
  it("probe against mirror: every marked frame returns, RTT measured by markers and by RTCP", async () => {
    const { probe, mirror } = await pair();
    mirror.start();
    probe.start();
    await sleep(1000);
    await probe.stop(100);
    await mirror.stop();
    const r = probe.report();
    expect(r.sent.markedFrames).toBeGreaterThanOrEqual(45);
    expect(r.sent.markedFrames).toBeLessThanOrEqual(52);
    expect(r.returned.frames).toBe(r.sent.markedFrames);
    expect(r.returned.share).toBe(1);
    expect(r.returned.rttMedianSeconds!).toBeLessThan(0.02);
    expect(r.received).toMatchObject({ lost: 0, duplicates: 0 });
    expect(r.received.received).toBe(r.sent.packets);
    expect(r.rtcp.reportsReceived).toBeGreaterThan(0);
    expect(r.rtcp.rttSeconds).not.toBeNull();
    expect(r.rtcp.farEnd).toMatchObject({ cumulativeLost: 0 });
    expect(r.rejects).toEqual({
      unexpectedSource: 0,
      unexpectedSsrc: 0,
      wrongPayloadType: 0,
      malformedRtp: 0,
      malformedRtcp: 0,
    });
    expect(mirror.report().received.received).toBe(r.sent.packets);
  });

  it("sends digits as RFC 4733 events that the far end decodes, then resumes marked audio", async () => {
    const { probe, mirror, digits } = await pair();
    mirror.start();
    probe.start();
    await sleep(100);
    expect(await probe.sendDigits("*4711#")).toBe(true);
    const framesAfter = probe.report().sent.markedFrames;
    await sleep(200);
    await probe.stop(50);
    expect(digits.join("")).toBe("*4711#");
    expect(mirror.report().dtmfReceived).toBe("*4711#");
    expect(probe.report().sent.markedFrames).toBeGreaterThan(framesAfter);
  });

  it("without telephone-event negotiated, sendDigits reports false", async () => {
    const a = await openRtpPortPair("127.0.0.1");
    open.push(a);
    const s = new RtpSession({
      ports: a,
      remote: { address: "127.0.0.1", port: 9 },
      payloadType: 0,
      role: "probe",
    });
    s.start();
    expect(await s.sendDigits("1")).toBe(false);
    await s.stop();
  });

  it("a far end that never sends: nothing returned, nothing received, no crash", async () => {
    const a = await openRtpPortPair("127.0.0.1");
    const silent = await openRtpPortPair("127.0.0.1");
    open.push(a, silent);
    const s = new RtpSession({
      ports: a,
      remote: { address: "127.0.0.1", port: silent.port },
      payloadType: 8,
      role: "probe",
    });
    s.start();
    await sleep(300);
    await s.stop();
    const r = s.report();
    expect(r.sent.markedFrames).toBeGreaterThan(10);
    expect(r.returned).toMatchObject({ frames: 0, share: 0, rttMedianSeconds: null });
    expect(r.received.received).toBe(0);
  });

  it("counts and ignores hostile datagrams: wrong source, garbage, truncated RTCP, wrong payload type, foreign SSRC", async () => {
    const { a, b, probe, mirror } = await pair();
    mirror.start();
    probe.start();
    const stranger = dgram.createSocket("udp4");
    await new Promise<void>((r) => stranger.bind(0, "127.0.0.2", () => r()));
    stranger.send(
      encodeRtp({ payloadType: 8, marker: false, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(160)),
      a.port,
      "127.0.0.1",
    );
    const fromB = (buf: Buffer, port = a.port) => b.rtp.send(buf, port, "127.0.0.1");
    await sleep(100);
    fromB(Buffer.from([0x01, 0x02, 0x03]));
    fromB(Buffer.from([0x80, 200, 0, 6, 0, 0]), a.port + 1);
    fromB(
      encodeRtp({ payloadType: 18, marker: false, sequence: 5, timestamp: 5, ssrc: 99 }, Buffer.alloc(20)),
    );
    await sleep(200);
    await probe.stop(50);
    stranger.close();
    const r = probe.report();
    expect(r.rejects.unexpectedSource).toBe(1);
    expect(r.rejects.malformedRtp).toBe(1);
    expect(r.rejects.malformedRtcp).toBe(1);
    expect(r.rejects.wrongPayloadType).toBe(1);
    expect(r.rejects.unexpectedSsrc).toBe(1);
    expect(r.returned.share).toBe(1);
  });

  it("keeps a drift-free 20 ms clock: frames sent match elapsed time", async () => {
    const a = await openRtpPortPair("127.0.0.1");
    open.push(a);
    const s = new RtpSession({
      ports: a,
      remote: { address: "127.0.0.1", port: 9 },
      payloadType: 8,
      role: "probe",
    });
    const t0 = performance.now();
    s.start();
    await sleep(2000);
    const elapsed = performance.now() - t0;
    await s.stop();
    const sent = s.report().sent.markedFrames;
    expect(Math.abs(sent - Math.floor(elapsed / 20))).toBeLessThanOrEqual(2);
  });
});
