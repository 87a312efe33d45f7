/**
 * G.711 A-law and µ-law (ITU-T G.711), sample by sample. Decode followed by encode returns the
 * original byte, which is what lets a looped-back payload be compared byte for byte.
 */

const SEG_END = [0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff];

function segment(value: number): number {
  for (let i = 0; i < SEG_END.length; i++) if (value <= SEG_END[i]!) return i;
  return SEG_END.length;
}

/** Encodes one 16-bit linear sample to A-law. */
export function linearToAlaw(sample: number): number {
  let pcm = sample >> 3;
  let mask: number;
  if (pcm >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const seg = segment(pcm << 3);
  let aval: number;
  if (seg >= 8) aval = 0x7f;
  else {
    aval = seg << 4;
    aval |= seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f;
  }
  return (aval ^ mask) & 0xff;
}

/** Decodes one A-law byte to a 16-bit linear sample. */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

const BIAS = 0x84;
const CLIP = 32635;

/** Encodes one 16-bit linear sample to µ-law. */
export function linearToMulaw(sample: number): number {
  let pcm = Math.max(-CLIP, Math.min(CLIP, sample));
  let mask: number;
  if (pcm < 0) {
    pcm = BIAS - pcm;
    mask = 0x7f;
  } else {
    pcm += BIAS;
    mask = 0xff;
  }
  const seg = segment(pcm);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((pcm >> (seg + 3)) & 0x0f)) ^ mask;
}

/** Decodes one µ-law byte to a 16-bit linear sample. */
export function mulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  let t = ((u & 0x0f) << 3) + BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? BIAS - t : t - BIAS;
}

/** Encodes linear samples with the codec of an RTP static payload type (0 PCMU, 8 PCMA). */
export function encodeG711(samples: Int16Array, payloadType: 0 | 8): Buffer {
  const out = Buffer.allocUnsafe(samples.length);
  const enc = payloadType === 8 ? linearToAlaw : linearToMulaw;
  for (let i = 0; i < samples.length; i++) out[i] = enc(samples[i]!);
  return out;
}

/** Decodes G.711 bytes of payload type 0 (PCMU) or 8 (PCMA) to linear samples. */
export function decodeG711(bytes: Uint8Array, payloadType: 0 | 8): Int16Array {
  const out = new Int16Array(bytes.length);
  const dec = payloadType === 8 ? alawToLinear : mulawToLinear;
  for (let i = 0; i < bytes.length; i++) out[i] = dec(bytes[i]!);
  return out;
}
