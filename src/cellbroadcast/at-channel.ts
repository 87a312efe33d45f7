/**
 * AT commands and unsolicited result codes over one line-oriented link (3GPP TS 27.007 §5,
 * TS 27.005 §3.4.1): one command at a time with a timeout, its response lines told apart from
 * URCs that interleave with it, and the two-line +CBM URC put back together.
 */

import type { LineFault } from "./at-lines.js";
import { sample } from "./at-lines.js";
import { type CbmHeader, finalResult, parseCbmHeader } from "./at-responses.js";

/** A command answered ERROR (or +CME/+CMS ERROR). */
export class AtCommandError extends Error {
  override readonly name = "AtCommandError";
  constructor(
    readonly command: string,
    readonly result: string,
  ) {
    super(`${command}: ${result}`);
  }
}

/** A command that got no final result in time, or was cut off by the link going away. */
export class AtTimeoutError extends Error {
  override readonly name = "AtTimeoutError";
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(`${command}: ${message}`);
  }
}

export type ChannelFault =
  | LineFault
  /** A +CBM header whose PDU line never came. */
  | "missing_pdu"
  /** A final result with no command waiting for it (a late answer to a timed-out command). */
  | "stray_result"
  /** An unsolicited line nobody recognises. */
  | "unexpected";

/** A +CBM URC: its header and the line after it, time-stamped when the header arrived. */
export interface CbmUrc {
  readonly header: CbmHeader;
  readonly data: string;
  /** Wall clock (ms since the epoch) and monotonic clock (performance.now()) at the header line. */
  readonly receivedAt: number;
  readonly receivedMono: number;
}

export interface AtChannelEvents {
  cbm(urc: CbmUrc): void;
  /** Other unsolicited lines (registration changes, RDY after a modem reset, …). */
  urc(line: string): void;
  fault(kind: ChannelFault, sample: string): void;
}

interface Pending {
  readonly command: string;
  readonly name: string;
  readonly lines: string[];
  readonly timeoutMs: number;
  readonly resolve: (lines: string[]) => void;
  readonly reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** URCs that may arrive while a command waits; never part of its response. */
const UNSOLICITED =
  /^(\+CBM:|\+CBMI:|\+CMTI:|\+CMT:|\+CDS:|\+CDSI:|RING$|\+CRING:|RDY$|\+CPIN:|\+CFUN:|\+QIND:|\+QUSIM:|\^|#|SMS DONE$|PB DONE$|\+CGEV:|\+CTZV:|\+CTZE:|\+NITZ)/;

/** After a timeout, wait this long for a late answer to drain before the next command. */
const SETTLE_MS = 300;

export class AtChannel {
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private awaitingCbm: { header: CbmHeader; at: number; mono: number } | undefined;
  private settleUntil = 0;
  private closed = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly events: AtChannelEvents,
    private readonly defaultTimeoutMs = 5000,
  ) {}

  /** Sends a command ("AT+CSCB?") and resolves with its response lines; rejects on ERROR or timeout. */
  send(command: string, timeoutMs = this.defaultTimeoutMs): Promise<string[]> {
    if (this.closed) return Promise.reject(new AtTimeoutError(command, "the link is closed"));
    return new Promise((resolve, reject) => {
      const name = /^AT\+?([A-Z0-9^#$]+)/i.exec(command)?.[1]?.toUpperCase() ?? "";
      this.queue.push({ command, name, lines: [], timeoutMs, resolve, reject });
      this.next();
    });
  }

  /** Feeds one line from the link. */
  line(text: string): void {
    if (this.awaitingCbm) {
      const header = this.awaitingCbm;
      this.awaitingCbm = undefined;
      if (header.header.mode === "text" || !looksLikeAtLine(text)) {
        this.events.cbm({
          header: header.header,
          data: text,
          receivedAt: header.at,
          receivedMono: header.mono,
        });
        return;
      }
      this.events.fault("missing_pdu", sample(`+CBM: ${header.header.length}`));
    }
    const cbm = parseCbmHeader(text);
    if (cbm) {
      this.awaitingCbm = { header: cbm, at: Date.now(), mono: performance.now() };
      return;
    }
    const c = this.current;
    if (!c) {
      if (finalResult(text)) this.events.fault("stray_result", sample(text));
      else this.events.urc(text);
      return;
    }
    if (text === c.command) return; // echo, before ATE0 takes effect
    const final = finalResult(text);
    if (final) {
      this.finish(c);
      if (final.ok) c.resolve(c.lines);
      else c.reject(new AtCommandError(c.command, final.error));
      this.next();
      return;
    }
    if (UNSOLICITED.test(text) && !text.startsWith(`+${c.name}:`)) {
      this.events.urc(text);
      return;
    }
    if (text.startsWith("+") && !text.startsWith(`+${c.name}:`) && /^\+(CREG|CEREG|C5GREG):/.test(text)) {
      // A registration change reported while another command waits.
      this.events.urc(text);
      return;
    }
    c.lines.push(text);
  }

  /** A line fault from the splitter; a half +CBM in progress is lost with it. */
  fault(kind: LineFault, text: string): void {
    this.events.fault(kind, text);
  }

  /** The link went away: every command waiting fails, and a +CBM half received is dropped. */
  reset(reason: string): void {
    if (this.awaitingCbm) {
      this.events.fault("missing_pdu", sample(`+CBM (link lost: ${reason})`));
      this.awaitingCbm = undefined;
    }
    const all = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    if (this.current) this.finish(this.current);
    for (const p of all) p.reject(new AtTimeoutError(p.command, `link lost (${reason})`));
  }

  /** Stops for good: commands fail from now on. */
  close(reason: string): void {
    this.closed = true;
    this.reset(reason);
  }

  /** Whether no command is in flight or queued. */
  get idle(): boolean {
    return !this.current && this.queue.length === 0;
  }

  private finish(c: Pending): void {
    if (c.timer) clearTimeout(c.timer);
    if (this.current === c) this.current = undefined;
  }

  private next(): void {
    if (this.current || this.queue.length === 0) return;
    const wait = this.settleUntil - Date.now();
    if (wait > 0) {
      setTimeout(() => this.next(), wait).unref?.();
      return;
    }
    const c = this.queue.shift()!;
    this.current = c;
    c.timer = setTimeout(() => {
      this.finish(c);
      this.settleUntil = Date.now() + SETTLE_MS;
      c.reject(new AtTimeoutError(c.command, `no final result within ${c.timeoutMs} ms`));
      this.next();
    }, c.timeoutMs);
    c.timer.unref?.();
    try {
      this.write(`${c.command}\r`);
    } catch (e) {
      this.finish(c);
      c.reject(new AtTimeoutError(c.command, `write failed: ${(e as Error).message}`));
      this.next();
    }
  }
}

/** Whether a line is something a modem says (a result code or a +/^ response), not a PDU. */
function looksLikeAtLine(text: string): boolean {
  return finalResult(text) !== undefined || /^[+^#]/.test(text) || UNSOLICITED.test(text);
}
