import { parseMultipart } from "../sip/multipart.js";
import { headerValue, headerValues, type SipRequestView } from "../sip/sip-message.js";

/**
 * What the caller told us about its location (RFC 6442): a Geolocation reference, or a PIDF-LO
 * body part by value, summarised as text. The answering point returns location by value when it
 * has it (RFC 6881 ED-78); dereferencing needs test credentials from the LIS, which a probe
 * answering point does not hold, so a reference is reported as such.
 */
export function locationSummary(req: SipRequestView): string {
  const refs = headerValues(req, "geolocation").map((v) => v.replace(/^<|>.*$/g, ""));
  const pidf = (parseMultipart(req.body, headerValue(req, "content-type")) ?? [])
    .filter((p) => /application\/pidf\+xml/i.test(p.contentType))
    .map((p) => p.body);
  const values = pidf.map(pidfSummary).filter((s) => s !== "");
  if (values.length > 0) return values.join("; ");
  if (refs.length > 0) return `by reference only: ${refs.join(", ")}`;
  return "none received";
}

/** The coordinates or civic address in a PIDF-LO document, as one line. */
export function pidfSummary(xml: string): string {
  const pos = /<(?:\w+:)?pos>\s*([-\d.]+)\s+([-\d.]+)/.exec(xml);
  if (pos) return `${pos[1]} ${pos[2]}`;
  const civic = ["country", "A1", "A2", "A3", "RD", "HNO", "PC"]
    .map((tag) => new RegExp(`<(?:\\w+:)?${tag}>([^<]{1,100})</`).exec(xml)?.[1]?.trim())
    .filter((v): v is string => Boolean(v));
  return civic.join(" ");
}

export interface IdentityFacts {
  readonly name: string;
  readonly service: string;
  readonly location: string;
  readonly callId: string;
  readonly receivedAt: string;
  readonly source: string;
  readonly agent: string | undefined;
  readonly path: string | undefined;
}

/**
 * The text/plain part of a test answer (RFC 6881 ED-78, NENA STA-010 test call): the answering
 * point's name, the service asked for and the location received, one per line; then what this
 * answering point saw of the call, so that the caller can keep it as evidence.
 */
export function identityBody(f: IdentityFacts): string {
  return [
    f.name,
    f.service,
    `location: ${f.location}`,
    `call-id: ${f.callId}`,
    `received: ${f.receivedAt} from ${f.source}`,
    `agent: ${f.agent ?? "unknown"} path: ${f.path ?? "unknown"}`,
    "",
  ].join("\r\n");
}
