import { isIP } from "node:net";
import { z } from "zod";

export type ListenProtocol = "udp" | "tcp" | "tls";

export interface ListenAddress {
  readonly protocol: ListenProtocol;
  readonly host: string;
  readonly port: number;
}

const LISTEN = /^(udp|tcp|tls):(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/;

/** Parses "udp:HOST:PORT" ("tls:[::]:5061" for IPv6); undefined when malformed. */
export function parseListen(spec: string): ListenAddress | undefined {
  const m = LISTEN.exec(spec);
  if (!m) return undefined;
  const port = Number(m[3]);
  const host = m[2]!.replace(/^\[|\]$/g, "");
  // Port 0 lets the system pick one; the bound port is logged at start.
  if (port > 65535 || isIP(host) === 0) return undefined;
  return { protocol: m[1] as ListenProtocol, host, port };
}

/** A listening address, e.g. udp:0.0.0.0:5060 or tls:[::]:5061. */
export const listenSpec = z.string().refine((s) => parseListen(s) !== undefined, {
  message: "expected PROTOCOL:IP:PORT with PROTOCOL udp, tcp or tls, e.g. udp:0.0.0.0:5060 or tls:[::]:5061",
});

/** "HOST:PORT" for an HTTP listener, e.g. 127.0.0.1:9112. */
export const hostPort = z.string().refine((s) => parseHostPort(s) !== undefined, {
  message: "expected IP:PORT, e.g. 127.0.0.1:9112 or [::1]:9112",
});

/** Parses "IP:PORT" or "[IPv6]:PORT". */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, "");
  const port = Number(m[2]);
  return isIP(host) !== 0 && port >= 1 && port <= 65535 ? { host, port } : undefined;
}

/** An IP address. */
export const ipAddress = z
  .string()
  .refine((s) => isIP(s) !== 0, { message: "expected an IPv4 or IPv6 address" });

/** A network in CIDR notation, e.g. 10.0.0.0/8 or 2001:db8::/32 (a bare address means /32 or /128). */
export const cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
  message: "expected a network in CIDR notation, e.g. 10.20.0.0/16 or 2001:db8::/48",
});

/** Parses a CIDR block; a bare address is a single host. */
export function parseCidr(s: string): { address: string; prefix: number; family: 4 | 6 } | undefined {
  const [address, bits] = s.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || !address) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits)))
    return undefined;
  return { address, prefix, family: family as 4 | 6 };
}

/** A name used as a metric label: lower case, digits, dashes, underscores. */
export const labelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "use 1–63 characters a–z, 0–9, - and _ (it becomes a metric label)");
