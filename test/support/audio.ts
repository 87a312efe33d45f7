import { writeFileSync } from "node:fs";
import { encodeG711 } from "../../src/media/g711.js";

/**
 * Writes a raw G.711 A-law file (no header, 8000 bytes a second) holding a sine tone, the format
 * SIPp 3.6 plays with `<exec rtp_stream="file,loops,8"/>` at 160 bytes per 20 ms packet.
 * 425 Hz is the European ring/dial tone: audio a far end could plausibly play, and nothing like
 * the marked frames a probe recognises as its own.
 */
export function writePcmaTone(
  path: string,
  opts: { seconds?: number; hz?: number; amplitude?: number } = {},
): Buffer {
  const rate = 8000;
  const samples = new Int16Array(Math.round((opts.seconds ?? 1) * rate));
  const hz = opts.hz ?? 425;
  const amplitude = opts.amplitude ?? 8000;
  for (let i = 0; i < samples.length; i++)
    samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  const bytes = encodeG711(samples, 8);
  writeFileSync(path, bytes);
  return bytes;
}
