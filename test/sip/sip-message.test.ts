import { describe, expect, it } from "vitest";
import {
  cseqOf,
  headerValue,
  headerValues,
  parseSipMessage,
  replaceFirstHeaderValue,
  splitHeaderList,
  tagOf,
} from "../../src/sip/sip-message.js";
import { stampReceived } from "../../src/sip/transport-base.js";
import { formatVia, parseVia, viaParam } from "../../src/sip/via.js";

const INVITE = [
  "INVITE sip:112@192.0.2.1;user=phone SIP/2.0",
  "v: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776;rport, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKabc",
  'f: "Probe, one" <sip:probe@198.51.100.7>;tag=a1',
  "t: <sip:112@192.0.2.1>",
  "i: abc@198.51.100.7",
  "CSeq: 7 INVITE",
  "Subject: folded",
  "  continuation",
  "l: 4",
  "",
  "v=0\n",
].join("\r\n");

describe("parseSipMessage", () => {
  it("reads compact headers, folded lines and comma lists", () => {
    const m = parseSipMessage(INVITE);
    expect(m.kind).toBe("request");
    if (m.kind !== "request") return;
    expect(m.method).toBe("INVITE");
    expect(m.requestUri).toBe("sip:112@192.0.2.1;user=phone");
    expect(headerValues(m, "via")).toHaveLength(2);
    expect(headerValue(m, "call-id")).toBe("abc@198.51.100.7");
    expect(headerValue(m, "subject")).toBe("folded continuation");
    expect(cseqOf(m)).toEqual({ seq: 7, method: "INVITE" });
    expect(tagOf(headerValue(m, "from"))).toBe("a1");
    expect(tagOf(headerValue(m, "to"))).toBeUndefined();
    expect(m.body).toBe("v=0\n".slice(0, 4));
  });

  it("clips a body longer than Content-Length (RFC 3261 §18.3)", () => {
    const m = parseSipMessage(INVITE.replace("l: 4", "l: 2"));
    expect(m.kind === "request" && m.body).toBe("v=");
  });

  it("rejects a body shorter than Content-Length as truncated", () => {
    const m = parseSipMessage(INVITE.replace("l: 4", "l: 400"));
    expect(m).toEqual({ kind: "error", reason: expect.stringMatching(/truncated/) });
  });

  it.each([
    ["garbage", "\x00\x01\x02 hello"],
    ["no blank line", "SIP/2.0 200 OK\r\nVia: x"],
    ["bad start line", "HELLO WORLD\r\nVia: a\r\nFrom: a\r\nTo: a\r\nCall-ID: a\r\nCSeq: 1 A\r\n\r\n"],
    ["missing Call-ID", "SIP/2.0 200 OK\r\nVia: a\r\nFrom: a\r\nTo: a\r\nCSeq: 1 A\r\n\r\n"],
    ["bad header line", "SIP/2.0 200 OK\r\nVia a\r\n\r\n"],
    [
      "bad Content-Length",
      "SIP/2.0 200 OK\r\nVia: a\r\nFrom: a\r\nTo: a\r\nCall-ID: a\r\nCSeq: 1 A\r\nContent-Length: -3\r\n\r\n",
    ],
  ])("returns an error for %s, never throws", (_name, text) => {
    expect(parseSipMessage(text).kind).toBe("error");
  });

  it("splits header lists respecting quotes and angle brackets", () => {
    expect(splitHeaderList('"a, b" <sip:x@y;p=1,2>, <sip:z@w>')).toEqual([
      '"a, b" <sip:x@y;p=1,2>',
      "<sip:z@w>",
    ]);
  });
});

describe("Via", () => {
  it("parses and formats IPv4, IPv6 and parameters", () => {
    const v = parseVia("SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKx;rport;received=2001:db8::9");
    expect(v).toMatchObject({ transport: "TLS", host: "[2001:db8::1]", port: 5061 });
    expect(viaParam(v!, "rport")).toBeNull();
    expect(viaParam(v!, "received")).toBe("2001:db8::9");
    expect(formatVia(v!)).toBe("SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKx;rport;received=2001:db8::9");
    expect(parseVia("SIP/2.0/UDP host:99999;branch=x")).toBeUndefined();
    expect(parseVia("nonsense")).toBeUndefined();
  });

  it("stamps received and fills rport on the top Via only (RFC 3261 §18.2.1, RFC 3581 §4)", () => {
    const out = stampReceived(INVITE, "203.0.113.4", 40000);
    const m = parseSipMessage(out);
    if (m.kind === "error") throw new Error(m.reason);
    const [top, second] = headerValues(m, "via");
    expect(top).toBe("SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776;rport=40000;received=203.0.113.4");
    expect(second).toBe("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKabc");
    expect(out.endsWith("\r\n\r\nv=0\n")).toBe(true);
  });

  it("adds received without rport only when the sent-by differs from the source", () => {
    const noRport = INVITE.replace(";rport,", ",");
    expect(stampReceived(noRport, "198.51.100.7", 5062)).toBe(noRport);
    expect(stampReceived(noRport, "198.51.100.8", 5062)).toContain(
      "branch=z9hG4bK776;received=198.51.100.8,",
    );
  });

  it("replaceFirstHeaderValue leaves other headers byte-identical", () => {
    const out = replaceFirstHeaderValue(INVITE, "call-id", () => "new");
    expect(out.replace("i: new", "i: abc@198.51.100.7")).toBe(INVITE);
  });
});
