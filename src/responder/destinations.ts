import { headerValue, type SipRequestView } from "../sip/sip-message.js";
import { parseSipUri, uriOfNameAddr } from "../sip/sip-uri.js";

/** What a call asked for, as the answering point sees it. */
export interface RequestedDestination {
  /** The number or service URN the caller asked for. */
  readonly requested: string;
  /** The configured destination that serves it, when one does. */
  readonly served: string | undefined;
}

/** A telephone number with visual separators removed (RFC 3966 §5.1.1). */
export function normaliseNumber(n: string): string {
  return n.replace(/[-.()\s]/g, "");
}

/** The number or URN a URI addresses: a sip: user part, a tel: number, or the URN itself. */
export function addressOf(uri: string): string | undefined {
  const u = uri.trim();
  if (/^urn:/i.test(u)) return u.toLowerCase();
  if (/^tel:/i.test(u)) return normaliseNumber(u.slice(4).split(";")[0] ?? "");
  const sip = parseSipUri(u);
  return sip?.user !== undefined ? normaliseNumber(decodeURIComponent(sip.user)) : undefined;
}

/**
 * Decides whether a request is for one of our test destinations (RFC 6881 ED-77: a test call
 * asks for a service URN starting with "test."). The Request-URI counts, and the To header too:
 * a proxy that resolved the service URN to our address keeps the URN in To (RFC 5031 §7).
 * `urn:service:test.sos` serves its sub-services; a real emergency URN is never served.
 */
export function matchDestination(req: SipRequestView, destinations: readonly string[]): RequestedDestination {
  const candidates = [req.requestUri, uriOfNameAddr(headerValue(req, "to") ?? "")]
    .map(addressOf)
    .filter((a): a is string => a !== undefined && a !== "");
  for (const requested of candidates) {
    for (const d of destinations) {
      const dest = d.toLowerCase();
      const isUrn = dest.startsWith("urn:");
      if (
        isUrn ? requested === dest || requested.startsWith(`${dest}.`) : requested === normaliseNumber(dest)
      ) {
        return { requested, served: d };
      }
    }
  }
  return {
    requested: candidates.find((c) => c.startsWith("urn:")) ?? candidates[0] ?? req.requestUri,
    served: undefined,
  };
}
