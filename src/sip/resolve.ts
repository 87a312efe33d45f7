import dns from "node:dns";
import { isIpLiteral, type SipUriParts } from "./sip-uri.js";
import { socketHost } from "./via.js";

export type SipTransportName = "udp" | "tcp" | "tls";

/** Where to send: an IP address and port, plus the name that led there (for TLS verification). */
export interface ResolvedHop {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** The host name from the URI (or the SRV target), unbracketed. */
  readonly host: string;
}

/** DNS failure while locating a SIP server: counted as a transport error, not a probe fault. */
export class ResolveError extends Error {
  override readonly name = "ResolveError";
}

export interface DnsApi {
  resolveSrv(name: string): Promise<dns.SrvRecord[]>;
  lookup(host: string, family: 0 | 4 | 6): Promise<{ address: string; family: number }>;
}

/** The system resolver (getaddrinfo for names, so /etc/hosts counts; the DNS for SRV). */
export const systemDns: DnsApi = {
  resolveSrv: (name) => dns.promises.resolveSrv(name),
  lookup: async (host, family) => {
    const r = await dns.promises.lookup(host, { family, verbatim: true });
    return { address: r.address, family: r.family };
  },
};

/**
 * Name resolution through given DNS servers ("ip" or "ip:port") instead of the system's, so an
 * agent can test a path as a provider's own resolvers see it. Names are looked up as A, then AAAA.
 */
export function dnsServers(servers: readonly string[], timeoutMs = 2000): DnsApi {
  const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 2 });
  resolver.setServers([...servers]);
  return {
    resolveSrv: (name) => resolver.resolveSrv(name),
    lookup: async (host, family) => {
      if (family !== 6) {
        const v4 = await resolver.resolve4(host).catch((e: NodeJS.ErrnoException) => {
          if (family === 4) throw e;
          return [];
        });
        if (v4[0]) return { address: v4[0], family: 4 };
      }
      const v6 = await resolver.resolve6(host);
      if (!v6[0]) throw Object.assign(new Error(`no address for ${host}`), { code: "ENODATA" });
      return { address: v6[0], family: 6 };
    },
  };
}

/** Default port of a SIP transport (RFC 3261 §19.1.2). */
export function defaultPort(transport: SipTransportName): number {
  return transport === "tls" ? 5061 : 5060;
}

/**
 * RFC 3263 §4.2 for a transport chosen in advance: an IP literal is used as is; a name with a port
 * gets an A/AAAA lookup; a name without one tries SRV first, then A/AAAA on the default port.
 * Only the first target is returned: a prober must see a dead server, not fail over around it.
 */
export async function resolveHop(
  uri: Pick<SipUriParts, "host" | "port" | "params">,
  transport: SipTransportName,
  opts: { dns?: DnsApi; family?: 0 | 4 | 6 } = {},
): Promise<ResolvedHop> {
  const api = opts.dns ?? systemDns;
  const family = opts.family ?? 0;
  const maddr = uri.params.get("maddr");
  const host = socketHost(maddr ?? uri.host);
  if (isIpLiteral(host)) {
    return {
      address: host,
      port: uri.port ?? defaultPort(transport),
      family: host.includes(":") ? 6 : 4,
      host,
    };
  }
  let target = host;
  let port = uri.port;
  if (port === undefined) {
    const service = transport === "tls" ? "_sips._tcp" : transport === "tcp" ? "_sip._tcp" : "_sip._udp";
    const srv = await api.resolveSrv(`${service}.${host}`).catch((e: NodeJS.ErrnoException) => {
      // No usable SRV answer means "use A/AAAA" (RFC 3263 §4.2); only an unreachable DNS
      // server ends the lookup here, since the address query would fail the same way.
      if (e.code !== "ECONNREFUSED" && e.code !== "ETIMEOUT") return [];
      throw new ResolveError(`SRV lookup of ${service}.${host} failed: ${e.code ?? e.message}`);
    });
    const best = pickSrv(srv);
    if (best) {
      target = best.name;
      port = best.port;
    }
  }
  try {
    const r = await api.lookup(target, family);
    return {
      address: r.address,
      port: port ?? defaultPort(transport),
      family: r.family === 6 ? 6 : 4,
      host: target,
    };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ResolveError(`cannot resolve ${target}: ${code}`);
  }
}

/** Lowest priority, then a weighted random choice (RFC 2782). */
export function pickSrv(
  records: dns.SrvRecord[],
  random: () => number = Math.random,
): dns.SrvRecord | undefined {
  if (records.length === 0) return undefined;
  const top = Math.min(...records.map((r) => r.priority));
  const group = records.filter((r) => r.priority === top);
  const total = group.reduce((s, r) => s + r.weight, 0);
  if (total === 0) return group[0];
  let pick = random() * total;
  for (const r of group) {
    pick -= r.weight;
    if (pick < 0) return r;
  }
  return group[group.length - 1];
}
