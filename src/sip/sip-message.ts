/**
 * A light, tolerant view of one SIP message, enough for the transport layer to route, stamp and
 * validate messages before SIP.js parses them for real. It never throws: malformed input comes
 * back as a `SipParseError` with a reason that ends up in the call trace and the drop counters.
 */

export interface SipHeader {
  /** Lower-case long form ("via", "call-id"), compact forms expanded. */
  readonly name: string;
  readonly value: string;
}

interface SipMessageBase {
  readonly headers: readonly SipHeader[];
  /** The body as received (after Content-Length clipping). */
  readonly body: string;
  /** Byte length the Content-Length header announced, when present. */
  readonly contentLength: number | undefined;
}

export interface SipRequestView extends SipMessageBase {
  readonly kind: "request";
  readonly method: string;
  readonly requestUri: string;
}

export interface SipResponseView extends SipMessageBase {
  readonly kind: "response";
  readonly status: number;
  readonly reason: string;
}

export type SipMessageView = SipRequestView | SipResponseView;

export interface SipParseError {
  readonly kind: "error";
  readonly reason: string;
}

const COMPACT: Readonly<Record<string, string>> = {
  a: "accept-contact",
  b: "referred-by",
  c: "content-type",
  d: "request-disposition",
  e: "content-encoding",
  f: "from",
  i: "call-id",
  j: "reject-contact",
  k: "supported",
  l: "content-length",
  m: "contact",
  n: "identity-info",
  o: "event",
  r: "refer-to",
  s: "subject",
  t: "to",
  u: "allow-events",
  v: "via",
  x: "session-expires",
  y: "identity",
};

/** Canonical lower-case long header name for a raw header name. */
export function canonicalHeaderName(raw: string): string {
  const lower = raw.trim().toLowerCase();
  return COMPACT[lower] ?? lower;
}

const REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/;
const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/;
const MANDATORY = ["via", "from", "to", "call-id", "cseq"] as const;

/** Parses the head of a SIP message and clips the body to Content-Length (RFC 3261 §18.3). */
export function parseSipMessage(text: string): SipMessageView | SipParseError {
  // Only a message that starts like SIP can have been cut short; anything else is garbage.
  const lineEnd = text.indexOf("\r\n");
  const startLine = lineEnd < 0 ? text : text.slice(0, lineEnd);
  if (!REQUEST_LINE.test(startLine) && !STATUS_LINE.test(startLine)) {
    return { kind: "error", reason: `bad start line: ${printable(startLine, 60)}` };
  }
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return { kind: "error", reason: "no end of headers (CRLF CRLF): message truncated" };
  const lines = text.slice(0, headEnd).split("\r\n");
  const start = lines.shift() ?? "";
  const headers: SipHeader[] = [];
  for (const line of lines) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      // RFC 3261 §7.3.1 line folding: continuation of the previous header.
      const prev = headers.pop();
      if (!prev) return { kind: "error", reason: "header continuation line before any header" };
      headers.push({ name: prev.name, value: `${prev.value} ${line.trim()}` });
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) return { kind: "error", reason: `malformed header line: ${printable(line, 60)}` };
    const name = line.slice(0, colon);
    if (!/^[A-Za-z0-9.!%*_+`'~-]+\s*$/.test(name)) {
      return { kind: "error", reason: `malformed header name: ${printable(name, 60)}` };
    }
    headers.push({ name: canonicalHeaderName(name), value: line.slice(colon + 1).trim() });
  }
  for (const name of MANDATORY) {
    if (!headers.some((h) => h.name === name)) return { kind: "error", reason: `missing ${name} header` };
  }
  const clHeader = headers.find((h) => h.name === "content-length");
  let contentLength: number | undefined;
  if (clHeader) {
    if (!/^\d{1,9}$/.test(clHeader.value)) {
      return { kind: "error", reason: `bad Content-Length: ${printable(clHeader.value, 20)}` };
    }
    contentLength = Number(clHeader.value);
  }
  const rawBody = Buffer.from(text.slice(headEnd + 4), "utf8");
  let body: string;
  if (contentLength === undefined) {
    body = rawBody.toString("utf8");
  } else if (rawBody.length < contentLength) {
    return {
      kind: "error",
      reason: `body shorter than Content-Length (${rawBody.length} < ${contentLength} bytes): message truncated`,
    };
  } else {
    body = rawBody.subarray(0, contentLength).toString("utf8");
  }
  const base = { headers, body, contentLength };
  const req = REQUEST_LINE.exec(start);
  if (req) return { kind: "request", method: req[1]!.toUpperCase(), requestUri: req[2]!, ...base };
  const res = STATUS_LINE.exec(start);
  if (res) return { kind: "response", status: Number(res[1]), reason: res[2] ?? "", ...base };
  return { kind: "error", reason: `bad start line: ${printable(start, 60)}` };
}

/** The first value of a header, or undefined. */
export function headerValue(msg: SipMessageBase, name: string): string | undefined {
  return msg.headers.find((h) => h.name === name)?.value;
}

/** All values of a header, with comma-separated lists split (RFC 3261 §7.3.1). */
export function headerValues(msg: SipMessageBase, name: string): string[] {
  return msg.headers.filter((h) => h.name === name).flatMap((h) => splitHeaderList(h.value));
}

/** Splits a comma-separated header value, respecting quotes and <...>. */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "<") depth++;
    else if (c === ">") depth = Math.max(0, depth - 1);
    else if (c === "," && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

/** CSeq number and method. */
export function cseqOf(msg: SipMessageBase): { seq: number; method: string } | undefined {
  const m = /^(\d+)\s+(\S+)$/.exec(headerValue(msg, "cseq") ?? "");
  return m ? { seq: Number(m[1]), method: m[2]!.toUpperCase() } : undefined;
}

/** The tag parameter of a From or To header value. */
export function tagOf(nameAddr: string | undefined): string | undefined {
  if (!nameAddr) return undefined;
  const afterUri = nameAddr.includes(">") ? nameAddr.slice(nameAddr.lastIndexOf(">") + 1) : nameAddr;
  return /;\s*tag=([^;\s,]+)/i.exec(afterUri)?.[1];
}

/** A short, single-line, printable excerpt of untrusted input for error messages. */
export function printable(s: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const clean = s.replace(/[\x00-\x1f\x7f-\x9f]/g, "·");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * Replaces the first value of the first header with `name` in raw message text, leaving every
 * other byte as it was. Used to rewrite the top Via without re-serialising the whole message.
 */
export function replaceFirstHeaderValue(
  text: string,
  name: string,
  replace: (value: string) => string,
): string {
  const headEnd = text.indexOf("\r\n\r\n");
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const lines = head.split("\r\n");
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0 || canonicalHeaderName(line.slice(0, colon)) !== name) continue;
    const rawValue = line.slice(colon + 1);
    const values = splitHeaderList(rawValue);
    const first = values[0];
    if (first === undefined) return text;
    const rest = values.slice(1);
    const newValue = [replace(first), ...rest].join(", ");
    lines[i] = `${line.slice(0, colon)}: ${newValue}`;
    return lines.join("\r\n") + (headEnd < 0 ? "" : text.slice(headEnd));
  }
  return text;
}
