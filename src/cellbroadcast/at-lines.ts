/**
 * Splitting a modem's byte stream into lines. Modems end lines with CR LF, some with CR alone;
 * reads cut lines anywhere; a line that never ends (noise on the line, a wedged modem) must not
 * grow without bound; and a port that drops mid-line leaves half a line behind.
 */

/** Longer than any real line: a 15-page UMTS PDU is 2,498 hex characters. */
export const MAX_LINE = 4096;

export type LineFault =
  /** Bytes that are not printable text (binary noise). */
  | "binary"
  /** A line longer than MAX_LINE, cut. */
  | "overlong"
  /** The link dropped in the middle of a line. */
  | "half_line";

export interface LineSink {
  line(text: string): void;
  fault(kind: LineFault, sample: string): void;
}

export class LineSplitter {
  private buffer = "";
  private overflowing = false;

  constructor(private readonly sink: LineSink) {}

  /** Feeds bytes as they arrive. */
  push(chunk: Buffer): void {
    // latin1 maps every byte to one character, so noise can be seen and counted instead of
    // turning into replacement characters.
    const text = chunk.toString("latin1");
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0d && c !== 0x0a) continue;
      this.append(text.slice(start, i));
      this.end();
      start = i + 1;
    }
    this.append(text.slice(start));
  }

  /** The link is gone: whatever is buffered is half a line. */
  reset(): void {
    if (this.buffer.length > 0 && !this.overflowing) this.sink.fault("half_line", sample(this.buffer));
    this.buffer = "";
    this.overflowing = false;
  }

  private append(s: string): void {
    if (s.length === 0 || this.overflowing) return;
    this.buffer += s;
    if (this.buffer.length > MAX_LINE) {
      this.sink.fault("overlong", sample(this.buffer));
      this.buffer = "";
      this.overflowing = true;
    }
  }

  private end(): void {
    const line = this.buffer;
    this.buffer = "";
    if (this.overflowing) {
      this.overflowing = false;
      return;
    }
    const trimmed = line.trim();
    if (trimmed.length === 0) return;
    // Control characters other than tab never occur in AT responses (text-mode broadcasts in
    // ISO 8859-1 may carry letters above 0x9F, so those pass).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    if (/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(trimmed)) {
      this.sink.fault("binary", sample(trimmed));
      return;
    }
    this.sink.line(trimmed);
  }
}

/** A short, printable excerpt of a bad line for logs. */
export function sample(s: string): string {
  const cut = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return JSON.stringify(cut);
}
