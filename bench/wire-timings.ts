/** The five RFC 6076 intervals `probe112 call --json` reports, in seconds. */
export const TIMING_NAMES = ["firstResponse", "srd", "answer", "sdd", "duration"] as const;

export type TimingName = (typeof TIMING_NAMES)[number];

export type Timings = Record<TimingName, number | null>;

/** One SIP message as the capture saw it, from the probe's point of view. */
export interface WirePacket {
  /** Capture timestamp, nanoseconds since the epoch (a double would lose the nanoseconds). */
  readonly atNs: bigint;
  readonly direction: "sent" | "received";
  readonly callId: string;
  readonly method?: string;
  readonly status?: number;
  readonly cseqMethod?: string;
  readonly cseq?: number;
}

/** The tshark fields {@link parseTsharkFields} expects, in this order. */
export const TSHARK_FIELDS = [
  "frame.time_epoch",
  "udp.srcport",
  "sip.Call-ID",
  "sip.Method",
  "sip.Status-Code",
  "sip.CSeq.method",
  "sip.CSeq.seq",
] as const;

/** Parses "1795905926.293800659" into nanoseconds without going through a double. */
export function epochToNs(text: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) return undefined;
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/**
 * Parses `tshark -T fields -E separator=/t` output of {@link TSHARK_FIELDS}. Packets from the
 * far end's port are what the probe received; everything else on the filtered capture it sent.
 */
export function parseTsharkFields(text: string, farEndPort: number): WirePacket[] {
  const packets: WirePacket[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const [epoch, srcPort, callId, method, status, cseqMethod, cseq] = line.split("\t");
    const atNs = epochToNs(epoch ?? "");
    if (atNs === undefined || !callId) continue;
    packets.push({
      atNs,
      direction: Number(srcPort) === farEndPort ? "received" : "sent",
      callId,
      ...(method ? { method } : {}),
      ...(status ? { status: Number(status) } : {}),
      ...(cseqMethod ? { cseqMethod } : {}),
      ...(cseq ? { cseq: Number(cseq) } : {}),
    });
  }
  return packets;
}

/** Seconds from `a` to `b`. */
export function secondsBetween(a: bigint, b: bigint): number {
  return Number(b - a) / 1e9;
}

/**
 * The intervals of one call computed from its packets alone, by the same rules the probe
 * applies to its own trace (first copies only, answered challenges skipped).
 */
export function wireTimings(packets: readonly WirePacket[]): Timings {
  const none: Timings = { firstResponse: null, srd: null, answer: null, sdd: null, duration: null };
  const invites = packets.filter((p) => p.direction === "sent" && p.method === "INVITE");
  const first = invites[0];
  if (!first) return none;
  const t0 = first.atNs;
  const lastInviteCseq = Math.max(...invites.map((p) => p.cseq ?? 0));
  const responses = packets.filter(
    (p) => p.direction === "received" && p.status !== undefined && p.cseqMethod === "INVITE",
  );
  const challengeAnswered = (p: WirePacket) =>
    (p.status === 401 || p.status === 407) && (p.cseq ?? 0) < lastInviteCseq;
  const firstResponse = responses[0];
  const srd = responses.find((p) => (p.status ?? 0) > 100 && !challengeAnswered(p));
  const answer = responses.find((p) => (p.status ?? 0) >= 200 && (p.status ?? 0) < 300);

  const byes = packets.filter((p) => p.direction === "sent" && p.method === "BYE");
  const firstBye = byes[0];
  const lastByeCseq = Math.max(...byes.map((p) => p.cseq ?? 0));
  const byeFinal = packets.find(
    (p) =>
      p.direction === "received" &&
      p.cseqMethod === "BYE" &&
      p.cseq === lastByeCseq &&
      (p.status ?? 0) >= 200,
  );
  const theirBye = packets.find((p) => p.direction === "received" && p.method === "BYE");
  const end = firstBye && (!theirBye || firstBye.atNs <= theirBye.atNs) ? firstBye : theirBye;
  return {
    firstResponse: firstResponse ? secondsBetween(t0, firstResponse.atNs) : null,
    srd: srd ? secondsBetween(t0, srd.atNs) : null,
    answer: answer ? secondsBetween(t0, answer.atNs) : null,
    sdd: firstBye && byeFinal ? secondsBetween(firstBye.atNs, byeFinal.atNs) : null,
    duration: answer && end && end.atNs >= answer.atNs ? secondsBetween(answer.atNs, end.atNs) : null,
  };
}

/** A message's identity for pairing the probe's trace with the capture, e.g. "< 180 INVITE". */
export function messageLabel(m: {
  direction: "sent" | "received";
  method?: string;
  status?: number;
  cseqMethod?: string;
}): string {
  const what = m.method ?? `${m.status ?? "?"} ${m.cseqMethod ?? "?"}`;
  return `${m.direction === "sent" ? ">" : "<"} ${what}`;
}
