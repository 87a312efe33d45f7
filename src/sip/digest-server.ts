import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Why a digest Authorization was not accepted. */
export type DigestRejection = "malformed" | "stale" | "unknown_user" | "wrong_response" | "wrong_realm";

const NONCE_TTL_MS = 5 * 60_000;

/** Parses the parameters of a `Digest ...` credentials value (RFC 3261 §25.1, RFC 7616). */
export function parseDigestParams(value: string): Map<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const out = new Map<string, string>();
  const re = /([a-zA-Z0-9-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*(?:,|$)/g;
  for (const p of m[1]!.matchAll(re))
    out.set(p[1]!.toLowerCase(), (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1"));
  return out;
}

function h(algorithm: string, s: string): string {
  return createHash(algorithm === "SHA-256" ? "sha256" : "md5")
    .update(s)
    .digest("hex");
}

/**
 * The server side of HTTP digest for SIP (RFC 3261 §22.4, RFC 8760 for SHA-256): challenges
 * with self-validating nonces (a timestamp and its HMAC, so nothing is stored per caller) and
 * checks the caller's response against the configured users.
 */
export class DigestVerifier {
  private readonly key = randomBytes(32);

  constructor(
    private readonly realm: string,
    private readonly users: ReadonlyMap<string, string>,
  ) {}

  /** A WWW-Authenticate (or Proxy-Authenticate) value; `stale` after an expired nonce. */
  challenge(stale = false): string {
    const nonce = this.nonce(Date.now());
    return `Digest realm="${this.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"${stale ? ", stale=true" : ""}`;
  }

  /** Checks an Authorization value for `method`; the username when it is right. */
  verify(
    authorization: string,
    method: string,
    now = Date.now(),
  ): { ok: true; username: string } | { ok: false; reason: DigestRejection } {
    const p = parseDigestParams(authorization);
    const username = p?.get("username");
    const nonce = p?.get("nonce");
    const uri = p?.get("uri");
    const response = p?.get("response");
    if (!p || !username || !nonce || !uri || !response) return { ok: false, reason: "malformed" };
    if (p.get("realm") !== this.realm) return { ok: false, reason: "wrong_realm" };
    const issued = this.nonceTime(nonce);
    if (issued === undefined) return { ok: false, reason: "wrong_response" };
    if (now - issued > NONCE_TTL_MS) return { ok: false, reason: "stale" };
    const password = this.users.get(username);
    if (password === undefined) return { ok: false, reason: "unknown_user" };
    const algorithm = (p.get("algorithm") ?? "MD5").toUpperCase();
    if (algorithm !== "MD5" && algorithm !== "SHA-256") return { ok: false, reason: "malformed" };
    const ha1 = h(algorithm, `${username}:${this.realm}:${password}`);
    const ha2 = h(algorithm, `${method}:${uri}`);
    const qop = p.get("qop");
    const expected =
      qop === "auth"
        ? h(algorithm, `${ha1}:${nonce}:${p.get("nc") ?? ""}:${p.get("cnonce") ?? ""}:auth:${ha2}`)
        : h(algorithm, `${ha1}:${nonce}:${ha2}`);
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    return a.length === b.length && timingSafeEqual(a, b)
      ? { ok: true, username }
      : { ok: false, reason: "wrong_response" };
  }

  private nonce(at: number): string {
    const t = Buffer.alloc(8);
    t.writeBigUInt64BE(BigInt(at));
    const mac = createHmac("sha256", this.key).update(t).digest().subarray(0, 16);
    return Buffer.concat([t, mac]).toString("base64url");
  }

  private nonceTime(nonce: string): number | undefined {
    const raw = Buffer.from(nonce, "base64url");
    if (raw.length !== 24) return undefined;
    const t = raw.subarray(0, 8);
    const mac = createHmac("sha256", this.key).update(t).digest().subarray(0, 16);
    return timingSafeEqual(mac, raw.subarray(8)) ? Number(t.readBigUInt64BE()) : undefined;
  }
}
