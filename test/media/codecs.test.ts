import { describe, expect, it } from "vitest";
import { eModel, mosFromR } from "../../src/media/e-model.js";
import {
  alawToLinear,
  decodeG711,
  encodeG711,
  linearToAlaw,
  linearToMulaw,
  mulawToLinear,
} from "../../src/media/g711.js";
import { markerFrame, markerPayload, readMarker } from "../../src/media/probe-payload.js";
import {
  decodeRtcp,
  encodeBye,
  encodeReport,
  encodeSdes,
  ntpFromUnixMs,
  ntpMiddle,
} from "../../src/media/rtcp-packet.js";
import { decodeRtp, encodeRtp, looksLikeRtcp } from "../../src/media/rtp-packet.js";
import {
  DtmfReceiver,
  decodeTelephoneEvent,
  dtmfCode,
  encodeTelephoneEvent,
  scheduleDigits,
} from "../../src/media/telephone-event.js";

describe("G.711", () => {
  it("matches the reference values of ITU-T G.711 at zero and full scale", () => {
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToMulaw(0)).toBe(0xff);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
    expect(linearToMulaw(32767)).toBe(0x80);
    expect(linearToMulaw(-32768)).toBe(0x00);
  });

  it("decode then encode returns every byte unchanged (A-law; µ-law but for its negative zero)", () => {
    for (let b = 0; b < 256; b++) {
      expect(linearToAlaw(alawToLinear(b))).toBe(b);
      if (b !== 0x7f) expect(linearToMulaw(mulawToLinear(b))).toBe(b);
    }
  });

  it("keeps the quantisation error within the segment step", () => {
    for (const x of [-30000, -1000, -7, 0, 5, 123, 4000, 31000]) {
      expect(Math.abs(alawToLinear(linearToAlaw(x)) - x)).toBeLessThanOrEqual(1024);
      expect(Math.abs(mulawToLinear(linearToMulaw(x)) - x)).toBeLessThanOrEqual(1024);
    }
    // Decoded values are the midpoints of the quantisation intervals (20000 lies in [19456, 20480)).
    const samples = Int16Array.from([0, 1000, -1000, 20000]);
    expect(Array.from(decodeG711(encodeG711(samples, 8), 8))).toEqual([8, 1008, -1008, 19968]);
  });
});

describe("RTP packets", () => {
  it("round-trips a header and payload", () => {
    const b = encodeRtp(
      { payloadType: 8, marker: true, sequence: 65535, timestamp: 2 ** 32 - 1, ssrc: 0xdeadbeef },
      Buffer.from("abc"),
    );
    expect(decodeRtp(b)).toEqual({
      payloadType: 8,
      marker: true,
      sequence: 65535,
      timestamp: 2 ** 32 - 1,
      ssrc: 0xdeadbeef,
      payload: Buffer.from("abc"),
    });
  });

  it("skips CSRCs, a header extension and padding", () => {
    const b = Buffer.concat([
      Buffer.from([0xb1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), // V=2 P=1 X=1 CC=1
      Buffer.from([0, 0, 0, 9]), // CSRC
      Buffer.from([0xbe, 0xde, 0, 1, 1, 2, 3, 4]), // extension with one word
      Buffer.from("hi"),
      Buffer.from([0, 0, 3]), // padding of 3
    ]);
    expect(decodeRtp(b)).toMatchObject({ sequence: 1, timestamp: 2, ssrc: 3, payload: Buffer.from("hi") });
  });

  it.each([
    ["too short", Buffer.alloc(11), "too_short"],
    ["version 1", Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "bad_version"],
    ["CSRCs beyond the end", Buffer.from([0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "bad_length"],
    ["zero padding count", Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "bad_length"],
    ["truncated extension", Buffer.from([0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe]), "bad_length"],
  ])("refuses %s without throwing", (_n, b, err) => {
    expect(decodeRtp(b)).toBe(err);
  });

  it("tells RTCP from RTP on a shared port (RFC 5761)", () => {
    expect(looksLikeRtcp(encodeBye(1))).toBe(true);
    expect(
      looksLikeRtcp(
        encodeRtp({ payloadType: 0, marker: false, sequence: 0, timestamp: 0, ssrc: 1 }, Buffer.alloc(0)),
      ),
    ).toBe(false);
  });
});

describe("RTCP", () => {
  it("round-trips a compound SR + SDES + BYE", () => {
    const block = {
      ssrc: 7,
      fractionLost: 25,
      cumulativeLost: -3,
      extendedHighestSequence: 70000,
      jitter: 42,
      lastSr: 123456,
      delaySinceLastSr: 6553,
    };
    const sender = {
      ntpSeconds: 3900000000,
      ntpFraction: 2 ** 31,
      rtpTimestamp: 160,
      packetCount: 50,
      octetCount: 8000,
    };
    const compound = Buffer.concat([
      encodeReport(1, [block], sender),
      encodeSdes(1, "probe@agent-1"),
      encodeBye(1),
    ]);
    expect(decodeRtcp(compound)).toEqual([
      { type: "sr", ssrc: 1, sender, reports: [block] },
      { type: "sdes", chunks: [{ ssrc: 1, cname: "probe@agent-1" }] },
      { type: "bye", ssrcs: [1] },
    ]);
    expect(decodeRtcp(encodeReport(9, []))).toEqual([{ type: "rr", ssrc: 9, reports: [] }]);
  });

  it("reports malformed input as a message", () => {
    expect(decodeRtcp(Buffer.from([0x80, 200]))).toMatch(/truncated/);
    expect(decodeRtcp(Buffer.from([0x40, 200, 0, 0]))).toMatch(/version/);
    expect(decodeRtcp(Buffer.from([0x81, 201, 0, 1, 0, 0, 0, 1]))).toMatch(/too short/);
    expect(decodeRtcp(Buffer.from([0x80, 201, 0, 9, 0, 0, 0, 1]))).toMatch(/longer than the datagram/);
  });

  it("NTP: the middle 32 bits count 1/65536 s", () => {
    const a = ntpMiddle(ntpFromUnixMs(1_700_000_000_000));
    const b = ntpMiddle(ntpFromUnixMs(1_700_000_000_500));
    expect(b - a).toBe(32768);
  });
});

describe("RFC 4733 telephone-event", () => {
  it("encodes and decodes the 4-byte payload", () => {
    const e = { event: 11, end: true, volume: 10, duration: 800 };
    expect(decodeTelephoneEvent(encodeTelephoneEvent(e))).toEqual(e);
    expect(decodeTelephoneEvent(Buffer.alloc(3))).toBeUndefined();
    expect(dtmfCode("#")).toBe(11);
    expect(dtmfCode("x")).toBeUndefined();
  });

  it("schedules one event per digit: marker first, growing durations, the end packet three times", () => {
    const s = scheduleDigits("1#", { toneMs: 100, gapMs: 60, ptimeMs: 20 });
    const first = s.filter((p) => p.eventStart === 0);
    expect(first.map((p) => p.atMs)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(first.map((p) => decodeTelephoneEvent(p.payload)!.duration)).toEqual([
      160, 320, 480, 640, 800, 800, 800,
    ]);
    expect(first.map((p) => p.marker)).toEqual([true, false, false, false, false, false, false]);
    expect(first.filter((p) => decodeTelephoneEvent(p.payload)!.end)).toHaveLength(3);
    expect(s.find((p) => p.eventStart !== 0)!.atMs).toBe(200);
    expect(() => scheduleDigits("1x")).toThrow(/not a DTMF symbol/);
  });

  it("the receiver yields each digit once, even with the start packet lost", () => {
    const rx = new DtmfReceiver();
    const s = scheduleDigits("*12#");
    const got: string[] = [];
    for (const p of s.slice(1)) {
      const d = rx.onPacket(p.eventStart, p.payload);
      if (d) got.push(d);
    }
    expect(got.join("")).toBe("*12#");
    expect(rx.digits).toBe("*12#");
  });
});

describe("probe payload markers", () => {
  it("reads back tag and index through A-law, µ-law and A-law→µ-law transcoding", () => {
    const a = markerPayload(0x1234, 4_000_000_123, 8);
    expect(readMarker(a, 8)).toEqual({ tag: 0x1234, index: 4_000_000_123 });
    expect(readMarker(markerPayload(7, 99, 0), 0)).toEqual({ tag: 7, index: 99 });
    const transcoded = encodeG711(decodeG711(a, 8), 0);
    expect(readMarker(transcoded, 0)).toEqual({ tag: 0x1234, index: 4_000_000_123 });
  });

  it("survives a 6 dB gain loss, and refuses silence, noise and short frames", () => {
    const quiet = Int16Array.from(markerFrame(5, 42), (s) => s >> 1);
    expect(readMarker(encodeG711(quiet, 8), 8)).toEqual({ tag: 5, index: 42 });
    expect(readMarker(Buffer.alloc(160, 0xd5), 8)).toBeUndefined();
    const noise = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 97) & 0xff));
    expect(readMarker(noise, 8)).toBeUndefined();
    expect(readMarker(Buffer.alloc(40), 8)).toBeUndefined();
  });
});

describe("E-model (G.107, G.711 with PLC)", () => {
  it("gives R 93.2 / MOS 4.41 for a perfect short path", () => {
    expect(eModel({ lossRatio: 0, oneWayDelayMs: 0 })).toEqual({ r: 93.2, mos: 4.41 });
  });

  it("falls with loss and with delay beyond 177 ms", () => {
    const tenPercent = eModel({ lossRatio: 0.1, oneWayDelayMs: 20 });
    expect(tenPercent.r).toBeCloseTo(93.2 - 0.48 - (95 * 10) / (10 + 25.1), 1);
    expect(eModel({ lossRatio: 0, oneWayDelayMs: 300 }).r).toBeCloseTo(93.2 - 7.2 - 13.5, 1);
    expect(eModel({ lossRatio: 1, oneWayDelayMs: 1000 }).mos).toBe(1);
  });

  it("maps R to MOS per G.107 Annex B", () => {
    expect(mosFromR(-5)).toBe(1);
    expect(mosFromR(50)).toBeCloseTo(2.58, 2);
    expect(mosFromR(120)).toBe(4.5);
  });
});
