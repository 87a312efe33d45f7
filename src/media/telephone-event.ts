/** DTMF symbols in RFC 4733 event-code order (0–15). */
export const DTMF_SYMBOLS = "0123456789*#ABCD";

export interface TelephoneEvent {
  /** Event code 0–255 (0–15 are DTMF). */
  readonly event: number;
  readonly end: boolean;
  /** Power level in −dBm0, 0–63. */
  readonly volume: number;
  /** Duration in RTP timestamp units since the event began. */
  readonly duration: number;
}

/** Event code of a DTMF symbol, or undefined for anything else. */
export function dtmfCode(symbol: string): number | undefined {
  const i = DTMF_SYMBOLS.indexOf(symbol.toUpperCase());
  return i < 0 || symbol.length !== 1 ? undefined : i;
}

/** Encodes the 4-byte RFC 4733 §2.3 payload. */
export function encodeTelephoneEvent(e: TelephoneEvent): Buffer {
  const b = Buffer.alloc(4);
  b[0] = e.event & 0xff;
  b[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  b.writeUInt16BE(Math.min(0xffff, e.duration), 2);
  return b;
}

/** Decodes an RFC 4733 payload; undefined when it is too short. */
export function decodeTelephoneEvent(payload: Buffer): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  return {
    event: payload[0]!,
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: payload.readUInt16BE(2),
  };
}

/**
 * Turns a stream of telephone-event packets into digits. An event is identified by its RTP
 * timestamp (RFC 4733 §2.5.1.3), so retransmitted end packets and lost start packets still give
 * exactly one digit each.
 */
export class DtmfReceiver {
  private readonly seen: number[] = [];
  private text = "";

  /** Accounts one packet; returns the digit when it starts a new event. */
  onPacket(rtpTimestamp: number, payload: Buffer): string | undefined {
    const e = decodeTelephoneEvent(payload);
    if (!e || e.event > 15) return undefined;
    if (this.seen.includes(rtpTimestamp)) return undefined;
    this.seen.push(rtpTimestamp);
    if (this.seen.length > 64) this.seen.shift();
    const digit = DTMF_SYMBOLS[e.event]!;
    this.text += digit;
    return digit;
  }

  /** Every digit received so far, in order. */
  get digits(): string {
    return this.text;
  }
}

/** One packet a DTMF sender puts on the wire. */
export interface EventPacket {
  /** Offset of this packet from the start of the digit string, in ms. */
  readonly atMs: number;
  /** Timestamp offset (samples) of the event this packet belongs to. */
  readonly eventStart: number;
  readonly marker: boolean;
  readonly payload: Buffer;
}

/**
 * The packets that send `digits` (RFC 4733 §2.5.1): one event per digit lasting `toneMs`, a
 * packet every `ptimeMs` with a growing duration, the end packet three times, then `gapMs` of
 * silence before the next digit.
 */
export function scheduleDigits(
  digits: string,
  opts: { toneMs?: number; gapMs?: number; ptimeMs?: number; clockRate?: number; volume?: number } = {},
): EventPacket[] {
  const tone = opts.toneMs ?? 100;
  const gap = opts.gapMs ?? 60;
  const ptime = opts.ptimeMs ?? 20;
  const rate = (opts.clockRate ?? 8000) / 1000;
  const volume = opts.volume ?? 10;
  const out: EventPacket[] = [];
  let t = 0;
  for (const symbol of digits) {
    const event = dtmfCode(symbol);
    if (event === undefined) throw new Error(`not a DTMF symbol: ${JSON.stringify(symbol)}`);
    const eventStart = Math.round(t * rate);
    for (let elapsed = ptime; elapsed < tone; elapsed += ptime) {
      out.push({
        atMs: t + elapsed - ptime,
        eventStart,
        marker: elapsed === ptime,
        payload: encodeTelephoneEvent({ event, end: false, volume, duration: Math.round(elapsed * rate) }),
      });
    }
    const endPayload = encodeTelephoneEvent({ event, end: true, volume, duration: Math.round(tone * rate) });
    for (let i = 0; i < 3; i++) {
      out.push({ atMs: t + tone - ptime + i * ptime, eventStart, marker: false, payload: endPayload });
    }
    t += tone + 2 * ptime + gap;
  }
  return out;
}
