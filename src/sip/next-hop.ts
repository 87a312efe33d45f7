import { type DnsApi, type ResolvedHop, resolveHop, type SipTransportName } from "./resolve.js";
import { headerValues, type SipRequestView, type SipResponseView } from "./sip-message.js";
import { parseSipUri, type SipUriParts, uriOfNameAddr } from "./sip-uri.js";
import { parseVia, socketHost, viaParam } from "./via.js";

/**
 * The URI a request is sent towards (RFC 3261 §8.1.2, §12.2.1.1, §16.12): the top Route when it is
 * a loose router, otherwise the Request-URI (which a strict-routing route set has already
 * replaced with the router).
 */
export function nextHopUri(req: SipRequestView): SipUriParts | undefined {
  const route = headerValues(req, "route")[0];
  if (route !== undefined) {
    const uri = parseSipUri(uriOfNameAddr(route));
    if (uri?.params.has("lr")) return uri;
  }
  return parseSipUri(req.requestUri);
}

/**
 * Where a response goes over UDP (RFC 3261 §18.2.2, RFC 3581 §4): `maddr`, else `received` (or the
 * sent-by host) on the `rport` value, else the sent-by port, else 5060.
 */
export function responseDestination(res: SipResponseView): { host: string; port: number } | undefined {
  const via = parseVia(headerValues(res, "via")[0] ?? "");
  if (!via) return undefined;
  const maddr = viaParam(via, "maddr");
  const received = viaParam(via, "received");
  const rport = viaParam(via, "rport");
  const host = socketHost(maddr ?? received ?? via.host);
  const port = rport && !maddr ? Number(rport) : (via.port ?? 5060);
  return { host, port };
}

/** Resolves next hops once per call: the same name always gives the same server. */
export class HopResolver {
  private readonly cache = new Map<string, Promise<ResolvedHop>>();

  constructor(private readonly opts: { dns?: DnsApi; family?: 0 | 4 | 6 } = {}) {}

  /** Resolves (and caches) a URI for a transport. */
  resolve(
    uri: Pick<SipUriParts, "host" | "port" | "params">,
    transport: SipTransportName,
  ): Promise<ResolvedHop> {
    const key = `${transport}|${uri.host}|${uri.port ?? ""}|${uri.params.get("maddr") ?? ""}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = resolveHop(uri, transport, this.opts);
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key));
    }
    return hit;
  }
}
