import { describe, expect, it } from "vitest";
import { FramingError, SipStreamFramer } from "../../src/sip/stream-framer.js";

const msg = (body: string, cl = Buffer.byteLength(body)) =>
  `OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\r\nContent-Length: ${cl}\r\n\r\n${body}`;

function collect(max?: number) {
  const out: string[] = [];
  let pings = 0;
  const f = new SipStreamFramer(
    (b) => out.push(b.toString("utf8")),
    () => pings++,
    max,
  );
  return { f, out, pings: () => pings };
}

describe("SipStreamFramer (RFC 3261 §18.3)", () => {
  it("splits coalesced messages, with multi-byte bodies counted in bytes", () => {
    const { f, out } = collect();
    const a = msg("héllo");
    const b = msg("");
    f.push(Buffer.from(a + b));
    expect(out).toEqual([a, b]);
  });

  it("reassembles a message split at every byte", () => {
    const { f, out } = collect();
    const a = msg("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n");
    for (const byte of Buffer.from(a)) f.push(Buffer.from([byte]));
    expect(out).toEqual([a]);
    expect(f.pending).toBe(0);
  });

  it("answers a CRLFCRLF ping and ignores a single CRLF pong (RFC 5626 §3.5.1)", () => {
    const { f, out, pings } = collect();
    f.push(Buffer.from("\r\n\r\n"));
    f.push(Buffer.from("\r\n"));
    f.push(Buffer.from(msg("x")));
    expect(pings()).toBe(1);
    expect(out).toHaveLength(1);
  });

  it("refuses a message without Content-Length", () => {
    const { f } = collect();
    expect(() => f.push(Buffer.from("OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n"))).toThrow(FramingError);
  });

  it("refuses a non-numeric Content-Length", () => {
    const { f } = collect();
    expect(() => f.push(Buffer.from(msg("", Number.NaN)))).toThrow(/bad Content-Length/);
  });

  it("bounds memory: endless headers and huge bodies are refused", () => {
    const endless = collect(1024);
    expect(() => endless.f.push(Buffer.alloc(2000, 65))).toThrow(/no end of headers/);
    const huge = collect(1024);
    expect(() => huge.f.push(Buffer.from(msg("", 5000)))).toThrow(/exceeds/);
  });

  it("waits for the rest of a body that has not arrived yet", () => {
    const { f, out } = collect();
    const a = msg("0123456789");
    f.push(Buffer.from(a.slice(0, -4)));
    expect(out).toEqual([]);
    f.push(Buffer.from(a.slice(-4)));
    expect(out).toEqual([a]);
  });
});
