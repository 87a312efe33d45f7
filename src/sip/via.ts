/** One Via header value (RFC 3261 §20.42), parsed just enough for RFC 3261 §18 and RFC 3581. */
export interface Via {
  /** "UDP", "TCP", "TLS", ... upper case. */
  readonly transport: string;
  /** Host as written: a name, an IPv4 address or a bracketed IPv6 reference. */
  readonly host: string;
  readonly port: number | undefined;
  /** Parameters in their original order; a flag parameter has the value `null`. */
  readonly params: ReadonlyArray<readonly [string, string | null]>;
}

const VIA =
  /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s:;[\]]+)(?:\s*:\s*(\d{1,5}))?\s*(.*)$/s;

/** Parses one Via value; undefined when malformed. */
export function parseVia(value: string): Via | undefined {
  const m = VIA.exec(value.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const params: Array<[string, string | null]> = [];
  const rest = m[4] ?? "";
  if (rest !== "") {
    if (!rest.startsWith(";")) return undefined;
    for (const part of rest.slice(1).split(";")) {
      const p = part.trim();
      if (!p) continue;
      const eq = p.indexOf("=");
      if (eq < 0) params.push([p.toLowerCase(), null]);
      else params.push([p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()]);
    }
  }
  return { transport: m[1]!.toUpperCase(), host: m[2]!, port, params };
}

/** Value of a Via parameter: undefined when absent, null when present without a value. */
export function viaParam(via: Via, name: string): string | null | undefined {
  const hit = via.params.find(([k]) => k === name);
  return hit === undefined ? undefined : hit[1];
}

/** Returns a copy of `via` with parameter `name` set (or added at the end). */
export function withViaParam(via: Via, name: string, value: string | null): Via {
  const params = via.params.some(([k]) => k === name)
    ? via.params.map(([k, v]) => (k === name ? ([k, value] as const) : ([k, v] as const)))
    : [...via.params, [name, value] as const];
  return { ...via, params };
}

/** Serialises a Via value. */
export function formatVia(via: Via): string {
  const hostPort = via.port === undefined ? via.host : `${via.host}:${via.port}`;
  const params = via.params.map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join("");
  return `SIP/2.0/${via.transport} ${hostPort}${params}`;
}

/** Host as it appears in a SIP URI or Via: IPv6 literals in brackets. */
export function uriHost(address: string): string {
  return address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
}

/** Host as a socket API wants it: brackets removed. */
export function socketHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
