/** Why a byte stream can no longer be framed; the connection must be closed (RFC 3261 §18.3). */
export class FramingError extends Error {
  override readonly name = "FramingError";
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;

/**
 * Splits a TCP/TLS byte stream into SIP messages by Content-Length, which RFC 3261 §18.3 makes
 * mandatory on streams. Handles split and coalesced writes and RFC 5626 §3.5.1 CRLF keep-alives.
 */
export class SipStreamFramer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onMessage: (message: Buffer) => void,
    private readonly onPing: () => void,
    private readonly maxMessageBytes = 64 * 1024,
  ) {}

  /** Bytes held back waiting for the rest of a message. */
  get pending(): number {
    return this.buf.length;
  }

  /** Feeds received bytes; throws FramingError when the stream is beyond repair. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      let crlfs = 0;
      while (this.buf.length >= 2 && this.buf[0] === 13 && this.buf[1] === 10) {
        this.buf = this.buf.subarray(2);
        crlfs++;
      }
      // A double CRLF between messages is a ping; a single one is a pong (or slack) to ignore.
      if (crlfs >= 2) this.onPing();
      if (this.buf.length === 0) return;
      const end = this.buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.buf.length > this.maxMessageBytes) {
          throw new FramingError(`no end of headers within ${this.maxMessageBytes} bytes`);
        }
        return;
      }
      const head = this.buf.subarray(0, end).toString("latin1");
      const cl = CONTENT_LENGTH.exec(head);
      if (!cl) throw new FramingError("message without Content-Length on a stream transport");
      if (!/^\d{1,9}$/.test(cl[1] ?? "")) throw new FramingError(`bad Content-Length "${cl[1]}"`);
      const total = end + 4 + Number(cl[1]);
      if (total > this.maxMessageBytes) {
        throw new FramingError(`message of ${total} bytes exceeds ${this.maxMessageBytes}`);
      }
      if (this.buf.length < total) return;
      const message = this.buf.subarray(0, total);
      this.buf = this.buf.subarray(total);
      this.onMessage(message);
    }
  }
}
