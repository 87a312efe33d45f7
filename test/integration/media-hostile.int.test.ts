import dgram from "node:dgram";
import { describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import type { TraceEntry } from "../../src/sip/trace.js";
import { call } from "../support/call.js";
import { audioOf, type MediaUas, sdpOfMessage, startMediaUas } from "../support/media.js";
import { uniqueLoopback } from "../support/ports.js";

// Datagrams that are not the far end's media, thrown at our media ports while a call to SIPp
// -rtp_echo is up: from an address the SDP never named, and garbage from the address it did.
// Each must be counted, none may crash the call or move the verdict.

const ip = uniqueLoopback();
let strangerIp = uniqueLoopback();
while (strangerIp === ip) strangerIp = uniqueLoopback();

/** Where our media socket is: learnt from our own INVITE, as a far end would learn it. */
interface OurMedia {
  address: string;
  rtpPort: number;
  /** RTCP on the port above (RFC 3550 §11; our offer has no a=rtcp). */
  rtcpPort: number;
}

/**
 * Calls `uas` and, 150 ms after its 200 arrives (our RTP session runs by then and the echo has
 * already set the far end's stream apart), hands our media address to `during`, which must be
 * done before our BYE (the call is held 1.5 s).
 */
async function callWhile(uas: MediaUas, during: (media: OurMedia) => Promise<void>): Promise<TestCallResult> {
  let media: OurMedia | undefined;
  let started: Promise<void> | undefined;
  let finished = false;
  let finishedBeforeBye: boolean | undefined;
  const onTrace = (e: TraceEntry) => {
    if (e.direction === "sent" && e.method === "INVITE" && !media) {
      const a = audioOf(sdpOfMessage(e.message));
      media = { address: a.address, rtpPort: a.port, rtcpPort: a.port + 1 };
    }
    if (e.direction === "received" && e.cseqMethod === "INVITE" && e.status === 200 && !started) {
      const m = media!;
      started = new Promise((resolve) => setTimeout(resolve, 150))
        .then(() => during(m))
        .then(() => {
          finished = true;
        });
      // Awaited by the caller; this only keeps a failure from surfacing as unhandled meanwhile.
      started.catch(() => {});
    }
    if (e.direction === "sent" && e.method === "BYE") finishedBeforeBye ??= finished;
  };
  const r = await call(uas.target, { media: "echo", dtmfToken: false, holdSeconds: 1.5, onTrace });
  if (!started) expect.fail(`the call was never answered: ${r.outcome} ${r.reason}`);
  await started;
  // Counts are taken when the call ends: datagrams still under way then would be missing.
  expect(finishedBeforeBye, "the call ended before every datagram was sent: hold it longer").toBe(true);
  return r;
}

async function bound(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(0, address, () => resolve());
  });
  return s;
}

/** Sends each datagram in turn, 5 ms apart: gentle enough that loopback drops none of them. */
async function sendAll(s: dgram.Socket, datagrams: Array<[Buffer, number]>, address: string): Promise<void> {
  for (const [data, port] of datagrams) {
    await new Promise<void>((resolve, reject) =>
      s.send(data, port, address, (e) => (e ? reject(e) : resolve())),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function rtp(pt: number, seq: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = pt;
  h.writeUInt16BE(seq, 2);
  h.writeUInt32BE(seq * 160, 4);
  h.writeUInt32BE(ssrc, 8);
  return Buffer.concat([h, payload]);
}

describe("media from the wrong place, and malformed media", () => {
  it("well-formed RTP and RTCP from an address the far end's SDP never named are counted as unexpectedSource and leave the verdict alone", async () => {
    const uas = await startMediaUas({ host: ip, echo: true });
    const stranger = await bound(strangerIp);
    const rtpCount = 50;
    const rtcpCount = 10;
    try {
      const r = await callWhile(uas, async (media) => {
        const datagrams: Array<[Buffer, number]> = [];
        // PCMA in the negotiated payload type: only the source address gives it away.
        for (let i = 0; i < rtpCount; i++) {
          datagrams.push([rtp(8, i, 0x5eed5eed, Buffer.alloc(160, 0xd5)), media.rtpPort]);
        }
        // RTCP RR (V=2, PT 201, no report blocks) to the RTCP port.
        const rr = Buffer.from([0x80, 201, 0x00, 0x01, 0x5e, 0xed, 0x5e, 0xed]);
        for (let i = 0; i < rtcpCount; i++) datagrams.push([rr, media.rtcpPort]);
        await sendAll(stranger, datagrams, media.address);
      });
      await uas.sipp.expectSuccess();

      expect(r.outcome, r.reason).toBe("answered");
      const m = r.media!;
      expect(m.rejects).toEqual({
        unexpectedSource: rtpCount + rtcpCount,
        unexpectedSsrc: 0,
        wrongPayloadType: 0,
        malformedRtp: 0,
        malformedRtcp: 0,
      });
      // None of the stranger's packets entered the statistics of the far end's stream.
      expect(m.packets.received).toBe(m.packets.sent);
      expect(m.packets.lost).toBe(0);
      expect(m.verdict).toBe("ok");
      expect(m.returned.share).toBeGreaterThanOrEqual(0.95);
      expect(r.success).toBe(true);
    } finally {
      stranger.close();
    }
  });

  it("malformed RTP and RTCP from the far end's own address are counted and dropped; the call completes with verdict ok", async () => {
    const uas = await startMediaUas({ host: ip, echo: true });
    // From the address the SDP named (another port): anything else would be refused for its
    // source before its contents were ever looked at.
    const sender = await bound(ip);
    const withPadding = (b: Buffer, pad: number) => {
      b[b.length - 1] = pad;
      return b;
    };
    const badRtp = [
      Buffer.alloc(0), // empty datagram
      Buffer.from([0x80, 0x08, 0x00, 0x01, 0x00]), // shorter than the fixed header
      Buffer.concat([Buffer.from([0x40, 0x08]), Buffer.alloc(170, 0xd5)]), // version 1
      Buffer.alloc(172), // version 0
      Buffer.concat([Buffer.from([0x8f, 0x08]), Buffer.alloc(38)]), // 15 CSRCs announced, none there
      // Header extension whose length word (bytes 14–15) claims 65535 words.
      Buffer.concat([
        Buffer.from([0x90, 0x08]),
        Buffer.alloc(12),
        Buffer.from([0xff, 0xff]),
        Buffer.alloc(4),
      ]),
      withPadding(Buffer.concat([Buffer.from([0xa0, 0x08]), Buffer.alloc(170)]), 0), // padding count 0
      withPadding(Buffer.concat([Buffer.from([0xa0, 0x08]), Buffer.alloc(30)]), 255), // padding longer than the packet
    ];
    const badRtcp = [
      Buffer.from([0x80, 0xc9, 0x00]), // truncated header
      Buffer.from([0x40, 0xc9, 0x00, 0x01, 0, 0, 0, 1]), // version 1
      Buffer.from([0x80, 0xc9, 0x00, 0x07, 0, 0, 0, 1]), // length word beyond the datagram
    ];
    const rounds = 4;
    try {
      const r = await callWhile(uas, async (media) => {
        const datagrams: Array<[Buffer, number]> = [];
        for (let i = 0; i < rounds; i++) {
          for (const b of badRtp) datagrams.push([b, media.rtpPort]);
          for (const b of badRtcp) datagrams.push([b, media.rtcpPort]);
          // An RTCP-looking datagram on the RTP port goes to the RTCP decoder (RFC 5761 §4).
          datagrams.push([badRtcp[0]!, media.rtpPort]);
        }
        await sendAll(sender, datagrams, media.address);
      });
      await uas.sipp.expectSuccess();

      expect(r.outcome, r.reason).toBe("answered");
      const m = r.media!;
      expect(m.rejects).toEqual({
        unexpectedSource: 0,
        unexpectedSsrc: 0,
        wrongPayloadType: 0,
        malformedRtp: rounds * badRtp.length,
        malformedRtcp: rounds * (badRtcp.length + 1),
      });
      expect(m.packets.received).toBe(m.packets.sent);
      expect(m.packets.lost).toBe(0);
      expect(m.verdict).toBe("ok");
      expect(r.success).toBe(true);
      expect(r.byeStatus).toBe(200);
    } finally {
      sender.close();
    }
  });
});
