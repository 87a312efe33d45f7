/** One RTP packet (RFC 3550 §5.1); CSRCs, header extension and padding are skipped on decode. */
export interface RtpPacket {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Buffer;
}

/** Why a datagram is not an RTP packet; a bounded set used as a metric label. */
export type RtpDecodeError = "too_short" | "bad_version" | "bad_length";

/** Decodes an RTP packet; returns an error code instead of throwing on hostile input. */
export function decodeRtp(b: Buffer): RtpPacket | RtpDecodeError {
  if (b.length < 12) return "too_short";
  const b0 = b[0]!;
  if (b0 >> 6 !== 2) return "bad_version";
  const csrcCount = b0 & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (b0 & 0x10) {
    if (b.length < offset + 4) return "bad_length";
    offset += 4 + 4 * b.readUInt16BE(offset + 2);
  }
  let end = b.length;
  if (b0 & 0x20) {
    const pad = b[b.length - 1]!;
    if (pad === 0) return "bad_length";
    end -= pad;
  }
  if (offset > end) return "bad_length";
  return {
    payloadType: b[1]! & 0x7f,
    marker: (b[1]! & 0x80) !== 0,
    sequence: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(offset, end),
  };
}

/** Encodes an RTP packet with a 12-byte header. */
export function encodeRtp(p: Omit<RtpPacket, "payload">, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(12 + payload.length);
  b[0] = 0x80;
  b[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  b.writeUInt16BE(p.sequence & 0xffff, 2);
  b.writeUInt32BE(p.timestamp >>> 0, 4);
  b.writeUInt32BE(p.ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}

/**
 * RTCP packet types 200–204 land on RTP payload types 72–76 with the marker bit set; RFC 5761 §4
 * uses this to tell them apart on a shared port.
 */
export function looksLikeRtcp(b: Buffer): boolean {
  return b.length >= 2 && b[1]! >= 192 && b[1]! <= 223;
}
