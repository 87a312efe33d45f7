/** The parts of a sip:/sips: URI that routing needs (RFC 3261 §19.1). */
export interface SipUriParts {
  readonly scheme: "sip" | "sips";
  readonly user: string | undefined;
  /** Host as written (IPv6 in brackets). */
  readonly host: string;
  readonly port: number | undefined;
  /** URI parameters, lower-case names; a flag parameter has the value `null`. */
  readonly params: ReadonlyMap<string, string | null>;
}

const URI =
  /^(sips?):(?:([^@]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?.*)?$/i;

/** Parses a bare SIP URI (no display name or angle brackets); undefined when it is not one. */
export function parseSipUri(text: string): SipUriParts | undefined {
  const m = URI.exec(text.trim());
  if (!m) return undefined;
  const port = m[4] === undefined ? undefined : Number(m[4]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const params = new Map<string, string | null>();
  for (const part of (m[5] ?? "").split(";")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq < 0) params.set(part.toLowerCase(), null);
    else params.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  const user = m[2] === undefined ? undefined : m[2].split(":")[0];
  return { scheme: m[1]!.toLowerCase() as "sip" | "sips", user, host: m[3]!, port, params };
}

/** The URI inside a name-addr (`"x" <sip:a@b>;tag=1`) or the addr-spec itself. */
export function uriOfNameAddr(value: string): string {
  const lt = value.indexOf("<");
  if (lt >= 0) {
    const gt = value.indexOf(">", lt);
    return value.slice(lt + 1, gt < 0 ? undefined : gt).trim();
  }
  // addr-spec: header parameters follow the URI after ';' (RFC 3261 §20.10).
  return value.split(";")[0]!.trim();
}

/** True when the string is an IPv4 or (bracketed or bare) IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  const h = host.startsWith("[") ? host.slice(1, -1) : host;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || (h.includes(":") && /^[0-9A-Fa-f:.]+$/.test(h));
}
