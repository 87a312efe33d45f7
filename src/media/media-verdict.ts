import { type EModelEstimate, eModel } from "./e-model.js";
import type { RtpReport } from "./rtp-session.js";

/** Whether media made the round trip: ours came back (ok), only theirs came (one_way), or nothing. */
export type MediaVerdict = "ok" | "one_way" | "none";

/** Share of our marked frames that must come back for the loop to count as working. */
export const RETURNED_SHARE_OK = 0.5;

export interface MediaAssessment {
  readonly verdict: MediaVerdict;
  readonly reason: string;
  readonly quality: EModelEstimate | null;
  /** One-way delay the quality estimate assumed, in seconds. */
  readonly oneWayDelaySeconds: number | null;
}

/**
 * Judges a probe's RTP report. `ok` needs at least half of the frames we sent to come back
 * recognisably ours; a far end that sends something else (an announcement, silence frames) is
 * `one_way`; no RTP at all is `none`. Quality (G.107 E-model) is estimated from the loss of
 * the looped stream and a one-way delay of half the media round trip plus packetization and a
 * jitter buffer of twice the measured jitter.
 */
export function assessMedia(r: RtpReport, ptimeMs = 20): MediaAssessment {
  const share = r.returned.share ?? 0;
  const got = r.received.received;
  const rtt = r.returned.rttMedianSeconds ?? r.rtcp.rttSeconds;
  let quality: EModelEstimate | null = null;
  let oneWay: number | null = null;
  // Marked frames went out and none came back: there is no loop whose quality could be rated.
  const noLoop = r.sent.markedFrames > 0 && r.returned.frames === 0;
  if (got > 0 && rtt !== null && !noLoop) {
    oneWay = rtt / 2 + ptimeMs / 1000 + 2 * r.received.jitterSeconds;
    // Frames that did not come back were lost somewhere on the loop: that is the loss we rate.
    const lossRatio =
      r.sent.markedFrames > 0 ? 1 - share : r.received.lost / Math.max(r.received.expected, 1);
    quality = eModel({ lossRatio, oneWayDelayMs: oneWay * 1000 });
    oneWay = Math.round(oneWay * 1e6) / 1e6;
  }
  const pct = `${Math.round(share * 100)}%`;
  if (r.sent.markedFrames > 0 && share >= RETURNED_SHARE_OK) {
    return {
      verdict: "ok",
      reason: `${pct} of ${r.sent.markedFrames} marked frames came back`,
      quality,
      oneWayDelaySeconds: oneWay,
    };
  }
  if (got > 0) {
    const why =
      r.returned.frames > 0
        ? `only ${pct} of our frames came back`
        : "the far end sends media, but not ours back";
    return {
      verdict: "one_way",
      reason: `${why} (${got} packets received)`,
      quality,
      oneWayDelaySeconds: oneWay,
    };
  }
  return {
    verdict: "none",
    reason: `no RTP received from ${r.remote}`,
    quality: null,
    oneWayDelaySeconds: null,
  };
}
