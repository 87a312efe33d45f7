import { decodeG711, encodeG711 } from "./g711.js";

/**
 * The audio a probe sends so that it can recognise its own media when it comes back. Each 20 ms
 * frame carries, as loud square pulses (two samples per bit, sign = bit), a sync word, a per-call
 * tag and the frame's index, followed by a short tone. Signs survive G.711 re-encoding, A-law ↔
 * µ-law transcoding and moderate gain changes, so a mirror that decodes and re-encodes (RFC 6849
 * rtp-media-loopback) or a gateway that transcodes still returns a readable marker.
 */

const SYNC = 0xa55a;
const SAMPLES_PER_BIT = 2;
const BITS = 16 + 16 + 32;
const AMPLITUDE = 12_000;
const MARKER_SAMPLES = BITS * SAMPLES_PER_BIT;

export interface FrameMarker {
  readonly tag: number;
  readonly index: number;
}

/** Linear samples of one frame carrying (tag, index); `samples` is 160 for 20 ms at 8 kHz. */
export function markerFrame(tag: number, index: number, samples = 160): Int16Array {
  const out = new Int16Array(samples);
  const bits: number[] = [];
  const push = (value: number, width: number) => {
    for (let i = width - 1; i >= 0; i--) bits.push(Math.floor(value / 2 ** i) % 2);
  };
  push(SYNC, 16);
  push(tag & 0xffff, 16);
  push(index >>> 0, 32);
  bits.forEach((bit, i) => {
    for (let s = 0; s < SAMPLES_PER_BIT; s++) out[i * SAMPLES_PER_BIT + s] = bit ? AMPLITUDE : -AMPLITUDE;
  });
  // The rest is a 1 kHz tone: something audible for a human listening in on the loop.
  for (let s = MARKER_SAMPLES; s < samples; s++)
    out[s] = Math.round(4000 * Math.sin((2 * Math.PI * 1000 * s) / 8000));
  return out;
}

/** Per law and frame size: the encoded +pulse and −pulse, and the encoded tone after the marker. */
const encodedParts = new Map<string, { high: number; low: number; tone: Buffer }>();

/**
 * The encoded payload of frame `index` for G.711 payload type 0 or 8. G.711 codes each sample
 * on its own, so only the 64 marker bits are written per frame; the pulses and the tone are
 * encoded once (the same bytes as encoding markerFrame, at a tenth of the cost).
 */
export function markerPayload(tag: number, index: number, payloadType: 0 | 8, samples = 160): Buffer {
  const key = `${payloadType}/${samples}`;
  let parts = encodedParts.get(key);
  if (!parts) {
    parts = {
      high: encodeG711(Int16Array.of(AMPLITUDE), payloadType)[0]!,
      low: encodeG711(Int16Array.of(-AMPLITUDE), payloadType)[0]!,
      tone: encodeG711(markerFrame(0, 0, samples).subarray(MARKER_SAMPLES), payloadType),
    };
    encodedParts.set(key, parts);
  }
  const out = Buffer.allocUnsafe(samples);
  let at = 0;
  for (const [value, width] of [
    [SYNC, 16],
    [tag & 0xffff, 16],
    [index >>> 0, 32],
  ] as const) {
    for (let i = width - 1; i >= 0; i--) {
      const byte = (value >>> i) & 1 ? parts.high : parts.low;
      for (let s = 0; s < SAMPLES_PER_BIT; s++) out[at++] = byte;
    }
  }
  parts.tone.copy(out, MARKER_SAMPLES);
  return out;
}

/** Reads the marker of a returned G.711 payload; undefined when the frame is not one of ours. */
export function readMarker(payload: Buffer, payloadType: 0 | 8): FrameMarker | undefined {
  if (payload.length < MARKER_SAMPLES) return undefined;
  return markerAt(decodeG711(payload.subarray(0, MARKER_SAMPLES), payloadType), 0);
}

/**
 * Every marker in `samples` (linear audio, e.g. the previous and the current payload decoded),
 * wherever it starts: a far end that resamples or re-frames returns our audio shifted.
 */
export function findMarkers(samples: Int16Array): FrameMarker[] {
  const found: FrameMarker[] = [];
  for (let at = 0; at + MARKER_SAMPLES <= samples.length; at++) {
    const m = markerAt(samples, at);
    if (!m) continue;
    found.push(m);
    at += MARKER_SAMPLES - 1;
  }
  return found;
}

function markerAt(samples: Int16Array, at: number): FrameMarker | undefined {
  let sync = 0;
  let tag = 0;
  let index = 0;
  for (let i = 0; i < BITS; i++) {
    let sum = 0;
    for (let s = 0; s < SAMPLES_PER_BIT; s++) sum += samples[at + i * SAMPLES_PER_BIT + s]!;
    // Near-silence carries no bit: a frame of comfort noise or an announcement is not ours.
    if (Math.abs(sum) < (AMPLITUDE / 4) * SAMPLES_PER_BIT) return undefined;
    const bit = sum > 0 ? 1 : 0;
    // Leave at the first sync bit that does not match: most offsets fail within two bits.
    if (i < 16 && bit !== ((SYNC >> (15 - i)) & 1)) return undefined;
    if (i < 16) sync = sync * 2 + bit;
    else if (i < 32) tag = tag * 2 + bit;
    else index = index * 2 + bit;
  }
  return sync === SYNC ? { tag, index } : undefined;
}
