/**
 * Reassembly of multi-page cell broadcasts. Pages arrive repeated, out of order and sometimes
 * not at all; a message is complete when pages 1..n are all in, and is given up as incomplete
 * (with the pages seen) when the timeout after its first page passes.
 */

import type { CbsFormat, CbsPage, EtwsPrimary } from "./cbs-pdu.js";
import type { DataCoding } from "./dcs.js";
import type { SerialNumber } from "./serial-number.js";

/** One page as it came off the modem. */
export interface ReceivedPage {
  readonly page: CbsPage;
  /** Wall-clock time (ms since the epoch) the URC's first line arrived. */
  readonly receivedAt: number;
  /** The same moment on the monotonic clock (performance.now()), for durations. */
  readonly receivedMono: number;
  /** The PDU as received, hex, for evidence. */
  readonly pdu: string;
}

/** A message put together from its pages; `complete` false when the timeout took it. */
export interface AssembledMessage {
  readonly key: string;
  readonly format: CbsFormat;
  readonly messageIdentifier: number;
  readonly serialNumber: SerialNumber;
  readonly dcs: number | null;
  readonly coding: DataCoding | null;
  readonly language: string | null;
  readonly pages: number;
  readonly received: readonly number[];
  readonly missing: readonly number[];
  readonly complete: boolean;
  /** The pages' text in order; a missing page shows as "[page N missing]". */
  readonly text: string;
  /** The PDUs of the pages received, in page order (each once). */
  readonly pdus: readonly string[];
  readonly firstPageAt: number;
  readonly lastPageAt: number;
  readonly firstPageMono: number;
  readonly lastPageMono: number;
  readonly etws?: EtwsPrimary;
  readonly warnings: readonly string[];
}

interface Pending {
  readonly key: string;
  readonly pages: Map<number, ReceivedPage>;
  readonly first: ReceivedPage;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The assembly key: one message is one (area, channel, serial number, coding, page count). */
export function assemblyKey(scope: string, p: CbsPage): string {
  return `${scope}|${p.messageIdentifier}|${p.serialNumber.raw}|${p.dcs ?? "-"}|${p.pages}`;
}

export class PageAssembler {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly timeoutMs: number,
    /** Receives each message the timeout gave up on (incomplete). */
    private readonly emit: (m: AssembledMessage) => void,
  ) {}

  /**
   * Adds a page: "duplicate" when that page of that message is already held; the message when
   * this page completed it. Only timeouts go to the emit callback.
   */
  add(scope: string, r: ReceivedPage): { status: "new" | "duplicate"; completed?: AssembledMessage } {
    const key = assemblyKey(scope, r.page);
    let p = this.pending.get(key);
    if (!p) {
      p = { key, pages: new Map(), first: r, timer: undefined };
      this.pending.set(key, p);
    }
    if (p.pages.has(r.page.page)) return { status: "duplicate" };
    p.pages.set(r.page.page, r);
    if (p.pages.size === r.page.pages) {
      if (p.timer) clearTimeout(p.timer);
      this.pending.delete(key);
      return { status: "new", completed: assemble(p, true) };
    }
    if (!p.timer) {
      const entry = p;
      p.timer = setTimeout(() => this.expire(entry), this.timeoutMs);
      p.timer.unref?.();
    }
    return { status: "new" };
  }

  /** Messages still waiting for pages. */
  get size(): number {
    return this.pending.size;
  }

  /** Gives up on every message still waiting: each is emitted as incomplete. */
  flush(): void {
    for (const p of [...this.pending.values()]) this.expire(p);
  }

  /** Drops what is pending without emitting anything. */
  clear(): void {
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.pending.clear();
  }

  private expire(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    if (this.pending.get(p.key) !== p) return;
    this.pending.delete(p.key);
    this.emit(assemble(p, false));
  }
}

function assemble(p: Pending, complete: boolean): AssembledMessage {
  const head = p.first.page;
  const received = [...p.pages.keys()].sort((a, b) => a - b);
  const missing: number[] = [];
  const texts: string[] = [];
  const warnings: string[] = [];
  let language = head.language;
  for (let n = 1; n <= head.pages; n++) {
    const r = p.pages.get(n);
    if (!r) {
      missing.push(n);
      texts.push(`[page ${n} missing]`);
      continue;
    }
    if (n === 1 && r.page.language) language = r.page.language;
    texts.push(r.page.text);
    for (const w of r.page.warnings) warnings.push(`page ${n}: ${w}`);
  }
  const times = [...p.pages.values()].map((r) => r.receivedAt);
  const monos = [...p.pages.values()].map((r) => r.receivedMono);
  return {
    key: p.key,
    format: head.format,
    messageIdentifier: head.messageIdentifier,
    serialNumber: head.serialNumber,
    dcs: head.dcs,
    coding: head.coding,
    language,
    pages: head.pages,
    received,
    missing,
    complete,
    text: texts.join(""),
    // A UMTS-format PDU carries every page: keep it once.
    pdus: [...new Set(received.map((n) => p.pages.get(n)!.pdu))],
    firstPageAt: Math.min(...times),
    lastPageAt: Math.max(...times),
    firstPageMono: Math.min(...monos),
    lastPageMono: Math.max(...monos),
    ...(head.etws ? { etws: head.etws } : {}),
    warnings,
  };
}
