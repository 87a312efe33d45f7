import { assessMedia, type MediaVerdict } from "../media/media-verdict.js";
import type { RtpRejects, RtpReport } from "../media/rtp-session.js";
import type { MediaMode, ProbeSessionDescriptionHandler } from "./session-description-handler.js";
import { uriHost } from "./via.js";

/** The media section of a test call's result. */
export interface CallMediaReport {
  /** What was asked of the far end. */
  readonly mode: MediaMode;
  /** The far end answered our RFC 6849 loopback offer as a mirror; false means plain echo was checked. */
  readonly loopback: boolean;
  readonly codec: string | null;
  readonly local: string | null;
  readonly remote: string | null;
  /** ok: our frames came back; one_way: media arrived, but not ours; none: no RTP at all. Null without media. */
  readonly verdict: MediaVerdict | null;
  readonly reason: string;
  readonly packets: {
    readonly sent: number;
    readonly received: number;
    readonly expected: number;
    readonly lost: number;
    readonly duplicates: number;
    readonly reordered: number;
  };
  readonly returned: {
    readonly frames: number;
    readonly share: number | null;
    /** Median round trip of our frames through the far end, seconds. */
    readonly rttSeconds: number | null;
    readonly rttMaxSeconds: number | null;
  };
  readonly jitterSeconds: number | null;
  readonly longestGapSeconds: number | null;
  readonly maxBurstLoss: number | null;
  readonly rtcp: RtpReport["rtcp"] | null;
  /** ITU-T G.107 E-model estimate for the loop. */
  readonly quality: { readonly r: number; readonly mos: number } | null;
  readonly oneWayDelaySeconds: number | null;
  readonly rejects: RtpRejects | null;
  readonly dtmf: { readonly sent: string | null; readonly received: string };
  readonly sendClock: RtpReport["sendClock"] | null;
}

/** Builds the media section from the session's handler; null when the call never had media. */
export function callMediaReport(
  mode: MediaMode,
  sdh: ProbeSessionDescriptionHandler | undefined,
  dtmfSent: string | null,
): CallMediaReport | null {
  const negotiated = sdh?.negotiated;
  if (!sdh || !negotiated) return null;
  const report = sdh.rtp?.report();
  const remote = `${uriHost(negotiated.address)}:${negotiated.port}`;
  const local = sdh.localMedia ?? null;
  const empty = { sent: 0, received: 0, expected: 0, lost: 0, duplicates: 0, reordered: 0 };
  if (!report) {
    return {
      mode,
      loopback: sdh.loopbackConfirmed,
      codec: negotiated.codec,
      local,
      remote,
      verdict: mode === "none" ? null : "none",
      reason: "media never started",
      packets: empty,
      returned: { frames: 0, share: null, rttSeconds: null, rttMaxSeconds: null },
      jitterSeconds: null,
      longestGapSeconds: null,
      maxBurstLoss: null,
      rtcp: null,
      quality: null,
      oneWayDelaySeconds: null,
      rejects: null,
      dtmf: { sent: dtmfSent, received: "" },
      sendClock: null,
    };
  }
  const assessed = mode === "none" ? undefined : assessMedia(report, negotiated.ptime ?? 20);
  const fallback =
    mode === "loopback" && !sdh.loopbackConfirmed ? " (no RFC 6849 mirror: checked as plain echo)" : "";
  return {
    mode,
    loopback: sdh.loopbackConfirmed,
    codec: negotiated.codec,
    local,
    remote,
    verdict: assessed?.verdict ?? null,
    reason: assessed ? `${assessed.reason}${fallback}` : "media not checked (--media none)",
    packets: {
      sent: report.sent.packets,
      received: report.received.received,
      expected: report.received.expected,
      lost: report.received.lost,
      duplicates: report.received.duplicates,
      reordered: report.received.reordered,
    },
    returned: {
      frames: report.returned.frames,
      share: report.returned.share,
      rttSeconds: report.returned.rttMedianSeconds,
      rttMaxSeconds: report.returned.rttMaxSeconds,
    },
    jitterSeconds: round6(report.received.jitterSeconds),
    longestGapSeconds: round6(report.received.longestGapSeconds),
    maxBurstLoss: report.received.maxBurstLoss,
    rtcp: report.rtcp,
    quality: assessed?.quality ?? null,
    oneWayDelaySeconds: assessed?.oneWayDelaySeconds ?? null,
    rejects: report.rejects,
    dtmf: { sent: dtmfSent, received: report.dtmfReceived },
    sendClock: report.sendClock,
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
