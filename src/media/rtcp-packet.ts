/** One reception report block (RFC 3550 §6.4.1). */
export interface ReportBlock {
  readonly ssrc: number;
  /** 8-bit fixed point fraction lost since the last report. */
  readonly fractionLost: number;
  readonly cumulativeLost: number;
  readonly extendedHighestSequence: number;
  /** Interarrival jitter in RTP timestamp units. */
  readonly jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received, 0 if none. */
  readonly lastSr: number;
  /** Delay since that SR, in 1/65536 s. */
  readonly delaySinceLastSr: number;
}

export interface SenderInfo {
  readonly ntpSeconds: number;
  readonly ntpFraction: number;
  readonly rtpTimestamp: number;
  readonly packetCount: number;
  readonly octetCount: number;
}

export type RtcpPacket =
  | {
      readonly type: "sr";
      readonly ssrc: number;
      readonly sender: SenderInfo;
      readonly reports: ReportBlock[];
    }
  | { readonly type: "rr"; readonly ssrc: number; readonly reports: ReportBlock[] }
  | { readonly type: "sdes"; readonly chunks: Array<{ ssrc: number; cname?: string }> }
  | { readonly type: "bye"; readonly ssrcs: number[] }
  | { readonly type: "other"; readonly packetType: number };

const NTP_EPOCH_OFFSET = 2_208_988_800;

/** NTP time (RFC 3550 §4) of a wall-clock time in ms since 1970. */
export function ntpFromUnixMs(ms: number): { seconds: number; fraction: number } {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return { seconds: (seconds + NTP_EPOCH_OFFSET) >>> 0, fraction: fraction >>> 0 };
}

/** The middle 32 bits of an NTP timestamp (the LSR/DLSR unit, 1/65536 s). */
export function ntpMiddle(ntp: { seconds: number; fraction: number }): number {
  return (((ntp.seconds & 0xffff) << 16) | (ntp.fraction >>> 16)) >>> 0;
}

function writeReport(b: Buffer, at: number, r: ReportBlock): void {
  b.writeUInt32BE(r.ssrc >>> 0, at);
  b[at + 4] = r.fractionLost & 0xff;
  b.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)), at + 5, 3);
  b.writeUInt32BE(r.extendedHighestSequence >>> 0, at + 8);
  b.writeUInt32BE(r.jitter >>> 0, at + 12);
  b.writeUInt32BE(r.lastSr >>> 0, at + 16);
  b.writeUInt32BE(r.delaySinceLastSr >>> 0, at + 20);
}

function readReport(b: Buffer, at: number): ReportBlock {
  return {
    ssrc: b.readUInt32BE(at),
    fractionLost: b[at + 4]!,
    cumulativeLost: b.readIntBE(at + 5, 3),
    extendedHighestSequence: b.readUInt32BE(at + 8),
    jitter: b.readUInt32BE(at + 12),
    lastSr: b.readUInt32BE(at + 16),
    delaySinceLastSr: b.readUInt32BE(at + 20),
  };
}

function header(count: number, packetType: number, lengthWords: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = 0x80 | (count & 0x1f);
  b[1] = packetType;
  b.writeUInt16BE(lengthWords - 1, 2);
  return b;
}

/** Encodes a sender report (PT 200), or a receiver report (PT 201) when `sender` is absent. */
export function encodeReport(ssrc: number, reports: readonly ReportBlock[], sender?: SenderInfo): Buffer {
  const blocks = reports.slice(0, 31);
  const body = Buffer.alloc(4 + (sender ? 20 : 0) + 24 * blocks.length);
  body.writeUInt32BE(ssrc >>> 0, 0);
  let at = 4;
  if (sender) {
    body.writeUInt32BE(sender.ntpSeconds >>> 0, 4);
    body.writeUInt32BE(sender.ntpFraction >>> 0, 8);
    body.writeUInt32BE(sender.rtpTimestamp >>> 0, 12);
    body.writeUInt32BE(sender.packetCount >>> 0, 16);
    body.writeUInt32BE(sender.octetCount >>> 0, 20);
    at = 24;
  }
  for (const r of blocks) {
    writeReport(body, at, r);
    at += 24;
  }
  return Buffer.concat([header(blocks.length, sender ? 200 : 201, (4 + body.length) / 4), body]);
}

/** Encodes an SDES packet (PT 202) with one CNAME chunk. */
export function encodeSdes(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname.slice(0, 255), "utf8").subarray(0, 255);
  // SSRC, CNAME item (type, length, text), then at least one null octet, padded to 32 bits.
  const raw = 4 + 2 + text.length + 1;
  const len = Math.ceil(raw / 4) * 4;
  const body = Buffer.alloc(len);
  body.writeUInt32BE(ssrc >>> 0, 0);
  body[4] = 1;
  body[5] = text.length;
  text.copy(body, 6);
  return Buffer.concat([header(1, 202, (4 + len) / 4), body]);
}

/** Encodes a BYE packet (PT 203). */
export function encodeBye(ssrc: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(ssrc >>> 0, 0);
  return Buffer.concat([header(1, 203, 2), body]);
}

/** Decodes a compound RTCP packet; returns an error message on malformed input, never throws. */
export function decodeRtcp(b: Buffer): RtcpPacket[] | string {
  if (b.length === 0) return "empty datagram";
  const out: RtcpPacket[] = [];
  let at = 0;
  while (at < b.length) {
    if (b.length - at < 4) return "truncated RTCP header";
    if (b[at]! >> 6 !== 2) return "RTCP version is not 2";
    const count = b[at]! & 0x1f;
    const pt = b[at + 1]!;
    const len = (b.readUInt16BE(at + 2) + 1) * 4;
    if (at + len > b.length) return `RTCP packet type ${pt} longer than the datagram`;
    const p = b.subarray(at, at + len);
    if (pt === 200 || pt === 201) {
      const fixed = pt === 200 ? 28 : 8;
      if (len < fixed + 24 * count)
        return `RTCP ${pt === 200 ? "SR" : "RR"} too short for ${count} report blocks`;
      const reports = Array.from({ length: count }, (_, i) => readReport(p, fixed + 24 * i));
      if (pt === 200) {
        const sender: SenderInfo = {
          ntpSeconds: p.readUInt32BE(8),
          ntpFraction: p.readUInt32BE(12),
          rtpTimestamp: p.readUInt32BE(16),
          packetCount: p.readUInt32BE(20),
          octetCount: p.readUInt32BE(24),
        };
        out.push({ type: "sr", ssrc: p.readUInt32BE(4), sender, reports });
      } else out.push({ type: "rr", ssrc: p.readUInt32BE(4), reports });
    } else if (pt === 202) {
      const chunks: Array<{ ssrc: number; cname?: string }> = [];
      let c = 4;
      for (let i = 0; i < count && c + 4 <= len; i++) {
        const ssrc = p.readUInt32BE(c);
        c += 4;
        let cname: string | undefined;
        while (c < len && p[c] !== 0) {
          const type = p[c]!;
          const itemLen = p[c + 1] ?? 0;
          if (c + 2 + itemLen > len) return "SDES item longer than the packet";
          if (type === 1) cname = p.subarray(c + 2, c + 2 + itemLen).toString("utf8");
          c += 2 + itemLen;
        }
        c = (Math.floor(c / 4) + 1) * 4;
        chunks.push(cname === undefined ? { ssrc } : { ssrc, cname });
      }
      out.push({ type: "sdes", chunks });
    } else if (pt === 203) {
      if (len < 4 + 4 * count) return "RTCP BYE too short";
      out.push({ type: "bye", ssrcs: Array.from({ length: count }, (_, i) => p.readUInt32BE(4 + 4 * i)) });
    } else out.push({ type: "other", packetType: pt });
    at += len;
  }
  return out;
}
