/** An ITU-T G.107 E-model estimate: a transmission rating and the MOS it maps to. */
export interface EModelEstimate {
  /** Transmission rating R, 0–100. */
  readonly r: number;
  /** Estimated MOS (conversational quality), 1–4.5. */
  readonly mos: number;
}

/** G.107 default R0 − Is with every other parameter at its default. */
const R_DEFAULT = 93.2;
/** G.113 Appendix I: G.711 has no codec impairment; with packet loss concealment Bpl is 25.1. */
const G711 = { ie: 0, bpl: 25.1 };

/**
 * Simplified G.107 E-model for G.711 (G.113 Appendix I values): R = 93.2 − Id − Ie,eff, with
 * Id from the one-way mouth-to-ear delay (the common linear approximation of G.107's delay
 * impairment) and Ie,eff from random packet loss. An estimate, not a perceptual score.
 */
export function eModel(input: {
  lossRatio: number;
  oneWayDelayMs: number;
  burstRatio?: number;
}): EModelEstimate {
  const ppl = Math.max(0, Math.min(100, input.lossRatio * 100));
  const burst = input.burstRatio ?? 1;
  const ieEff = G711.ie + ((95 - G711.ie) * ppl) / (ppl / burst + G711.bpl);
  const d = Math.max(0, input.oneWayDelayMs);
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const r = Math.max(0, Math.min(100, R_DEFAULT - id - ieEff));
  return { r: round(r, 1), mos: round(mosFromR(r), 2) };
}

/** G.107 Annex B: MOS from R. */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
