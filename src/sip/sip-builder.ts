import { randomBytes } from "node:crypto";
import { headerValue, headerValues, type SipRequestView } from "./sip-message.js";

const REASONS: Readonly<Record<number, string>> = {
  100: "Trying",
  180: "Ringing",
  183: "Session Progress",
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  500: "Server Internal Error",
  503: "Service Unavailable",
  603: "Decline",
};

/** The standard reason phrase of a status code. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "Unknown";
}

/** A fresh token for tags and branches (RFC 3261 §19.3: at least 32 bits of randomness). */
export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString("hex");
}

/** A new RFC 3261 branch: the magic cookie plus a random token. */
export function newBranch(): string {
  return `z9hG4bK${randomToken(10)}`;
}

export interface MessageBody {
  readonly contentType: string;
  readonly content: string;
}

export interface ResponseOptions {
  readonly reason?: string;
  /** Our To tag; added when the request's To has none (every response but 100). */
  readonly toTag?: string;
  /** Contact URI for responses that establish a dialog. */
  readonly contact?: string;
  /** Extra header lines ("Name: value"). */
  readonly headers?: readonly string[];
  readonly body?: MessageBody;
  readonly server?: string;
}

/**
 * Builds a response to a request (RFC 3261 §8.2.6): Via (with what the transport stamped), From,
 * To (+ our tag), Call-ID and CSeq copied; Record-Route copied into responses that can
 * establish a dialog (§12.1.1).
 */
export function buildResponse(req: SipRequestView, status: number, opts: ResponseOptions = {}): string {
  const lines = [`SIP/2.0 ${status} ${opts.reason ?? reasonPhrase(status)}`];
  for (const v of headerValues(req, "via")) lines.push(`Via: ${v}`);
  lines.push(`From: ${headerValue(req, "from") ?? ""}`);
  let to = headerValue(req, "to") ?? "";
  if (status > 100 && opts.toTag && !/;\s*tag=/i.test(to)) to = `${to};tag=${opts.toTag}`;
  lines.push(`To: ${to}`);
  lines.push(`Call-ID: ${headerValue(req, "call-id") ?? ""}`);
  lines.push(`CSeq: ${headerValue(req, "cseq") ?? ""}`);
  if (status > 100 && status < 300) {
    for (const rr of headerValues(req, "record-route")) lines.push(`Record-Route: ${rr}`);
  }
  if (opts.contact && status > 100 && status < 300) lines.push(`Contact: <${opts.contact}>`);
  if (opts.server) lines.push(`Server: ${opts.server}`);
  lines.push(...(opts.headers ?? []));
  return finish(lines, opts.body);
}

export interface RequestSpec {
  readonly method: string;
  readonly requestUri: string;
  readonly via: string;
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: number;
  readonly routes?: readonly string[];
  readonly contact?: string;
  readonly headers?: readonly string[];
  readonly body?: MessageBody;
  readonly userAgent?: string;
}

/** Builds a request (RFC 3261 §8.1.1) with Max-Forwards 70 and a Content-Length. */
export function buildRequest(r: RequestSpec): string {
  const lines = [`${r.method} ${r.requestUri} SIP/2.0`, `Via: ${r.via}`, "Max-Forwards: 70"];
  for (const route of r.routes ?? []) lines.push(`Route: ${route}`);
  lines.push(`From: ${r.from}`, `To: ${r.to}`, `Call-ID: ${r.callId}`, `CSeq: ${r.cseq} ${r.method}`);
  if (r.contact) lines.push(`Contact: <${r.contact}>`);
  if (r.userAgent) lines.push(`User-Agent: ${r.userAgent}`);
  lines.push(...(r.headers ?? []));
  return finish(lines, r.body);
}

function finish(lines: string[], body: MessageBody | undefined): string {
  if (body) {
    lines.push(`Content-Type: ${body.contentType}`, `Content-Length: ${Buffer.byteLength(body.content)}`);
    return `${lines.join("\r\n")}\r\n\r\n${body.content}`;
  }
  lines.push("Content-Length: 0");
  return `${lines.join("\r\n")}\r\n\r\n`;
}
