import { Core } from "sip.js";
import { RFC3261_TIMERS } from "./udp-reliability.js";

let applied = false;

/**
 * SIP.js 0.21 sets Timers D, I, J and K to 0, which is right for reliable transports only: a
 * retransmitted 486 then goes un-ACKed and a retransmitted BYE gets 481. Giving them their
 * RFC 3261 §17 values for UDP turns SIP.js's own absorb-and-resend paths back on; on TCP/TLS
 * the only cost is that finished transactions linger a little longer in memory.
 */
export function applyRfc3261Timers(): void {
  if (applied) return;
  const { t1, t4 } = RFC3261_TIMERS;
  Object.assign(Core.Timers, { TIMER_D: 32_000, TIMER_I: t4, TIMER_J: 64 * t1, TIMER_K: t4 });
  applied = true;
}
