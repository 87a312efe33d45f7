import { cseqOf, headerValue, headerValues, type SipMessageView } from "./sip-message.js";
import { monotonicMs, type RetransmitTimer } from "./trace.js";
import { parseVia, viaParam } from "./via.js";

/** RFC 3261 §17.1.1.1 timer values, in milliseconds. */
export interface SipTimerValues {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
}

export const RFC3261_TIMERS: SipTimerValues = { t1: 500, t2: 4000, t4: 5000 };

export interface Destination {
  readonly host: string;
  readonly port: number;
}

type Resend = (wire: string, dest: Destination, timer: RetransmitTimer) => void;

interface Pending {
  readonly timer: RetransmitTimer;
  readonly wire: string;
  readonly dest: Destination;
  readonly startedAt: number;
  interval: number;
  handle: NodeJS.Timeout | undefined;
  proceeding: boolean;
}

/**
 * The proactive half of the RFC 3261 §17 transaction timers that SIP.js 0.21 leaves as TODOs on
 * unreliable transports: Timer A (INVITE), Timer E (non-INVITE) and Timer G (3xx–6xx to INVITE).
 * It only observes messages; it never consumes one, so SIP.js still sees every first copy.
 * Keys are branch + method + Call-ID: SIP.js draws branches from only ~10^7 values.
 */
export class UdpReliability {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;

  constructor(
    private readonly resend: Resend,
    private readonly timers: SipTimerValues = RFC3261_TIMERS,
    now?: () => number,
  ) {
    this.now = now ?? monotonicMs;
  }

  /** Number of transactions with a retransmission timer running. */
  get active(): number {
    return this.pending.size;
  }

  /** Called for every message we send for the first time. */
  onSent(msg: SipMessageView, wire: string, dest: Destination): void {
    const key = transactionKey(msg);
    if (!key || this.pending.has(key)) return;
    const { t1 } = this.timers;
    if (msg.kind === "request") {
      if (msg.method === "ACK") return; // case 4: never on a timer
      this.arm(key, { timer: msg.method === "INVITE" ? "A" : "E", wire, dest, interval: t1 });
      return;
    }
    const cseq = cseqOf(msg);
    if (cseq?.method === "INVITE" && msg.status >= 300) {
      this.arm(key, { timer: "G", wire, dest, interval: t1 }); // case 5
    }
    // cases 6–8: 2xx (SIP.js dialog resends), 1xx, and non-INVITE responses need nothing here.
  }

  /** Called for every message received, before SIP.js sees it. */
  onReceived(msg: SipMessageView): void {
    if (msg.kind === "request") {
      if (msg.method !== "ACK") return;
      // An ACK for a non-2xx carries the INVITE's branch (RFC 3261 §17.1.1.3): stops Timer G.
      const key = transactionKey(msg, "INVITE");
      if (key) this.stop(key);
      return;
    }
    const key = transactionKey(msg);
    if (!key) return;
    const p = this.pending.get(key);
    if (!p || p.timer === "G") return;
    if (p.timer === "A" || msg.status >= 200) {
      this.stop(key);
      return;
    }
    // Timer E after a provisional: keep resending, every T2 (RFC 3261 §17.1.2.2).
    if (!p.proceeding) {
      p.proceeding = true;
      p.interval = this.timers.t2;
    }
  }

  /** Cancels every timer (transport closed or UA stopped). */
  stopAll(): void {
    for (const key of [...this.pending.keys()]) this.stop(key);
  }

  private arm(key: string, init: Pick<Pending, "timer" | "wire" | "dest" | "interval">): void {
    const p: Pending = { ...init, startedAt: this.now(), handle: undefined, proceeding: false };
    this.pending.set(key, p);
    this.schedule(key, p);
  }

  private schedule(key: string, p: Pending): void {
    // Timers B, F and H end the transaction 64·T1 after the first send: no resend lands later.
    const lifetime = 64 * this.timers.t1;
    if (this.now() - p.startedAt + p.interval >= lifetime) {
      this.pending.delete(key);
      return;
    }
    p.handle = setTimeout(() => {
      if (this.pending.get(key) !== p) return;
      this.resend(p.wire, p.dest, p.timer);
      if (p.timer === "A") p.interval *= 2;
      else p.interval = p.proceeding ? this.timers.t2 : Math.min(p.interval * 2, this.timers.t2);
      this.schedule(key, p);
    }, p.interval);
  }

  private stop(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.handle);
    this.pending.delete(key);
  }
}

/** branch|method|Call-ID of the transaction a message belongs to (RFC 3261 §17.1.3, §17.2.3). */
export function transactionKey(msg: SipMessageView, methodOverride?: string): string | undefined {
  const via = parseVia(headerValues(msg, "via")[0] ?? "");
  const branch = via ? viaParam(via, "branch") : undefined;
  const callId = headerValue(msg, "call-id");
  const method = methodOverride ?? (msg.kind === "request" ? msg.method : cseqOf(msg)?.method);
  if (!branch || !callId || !method) return undefined;
  return `${branch}|${method}|${callId}`;
}
