import { createHmac, randomInt, timingSafeEqual } from "node:crypto";

/**
 * A probe token identifies the calling agent and path to the far end and proves the call came
 * from that agent. It is all digits, so that it survives being sent in-band as RFC 4733 DTMF when
 * an SBC strips custom headers: agent number (4) · path number (2) · nonce (6) · MAC (6). The MAC
 * is an HMAC-SHA256 over the first twelve digits with the agent's secret, reduced to six digits.
 */
export interface ProbeTokenFields {
  readonly agent: number;
  readonly path: number;
  readonly nonce: number;
}

export const PROBE_TOKEN_LENGTH = 18;

function mac(fields: string, secret: string | Buffer): string {
  const h = createHmac("sha256", secret).update(fields).digest();
  return String(h.readUInt32BE(0) % 1_000_000).padStart(6, "0");
}

function fieldDigits(f: ProbeTokenFields): string {
  if (!Number.isInteger(f.agent) || f.agent < 0 || f.agent > 9999)
    throw new RangeError("agent number must be 0–9999");
  if (!Number.isInteger(f.path) || f.path < 0 || f.path > 99)
    throw new RangeError("path number must be 0–99");
  return `${String(f.agent).padStart(4, "0")}${String(f.path).padStart(2, "0")}${String(f.nonce % 1_000_000).padStart(6, "0")}`;
}

/** Issues a signed token for one call of `agent` on `path`. */
export function issueProbeToken(agent: number, path: number, secret: string | Buffer): string {
  const digits = fieldDigits({ agent, path, nonce: randomInt(0, 1_000_000) });
  return `${digits}${mac(digits, secret)}`;
}

/** Reads the fields of a token that has the signed shape; undefined for any other token. */
export function parseProbeToken(token: string): (ProbeTokenFields & { readonly mac: string }) | undefined {
  if (!/^\d{18}$/.test(token)) return undefined;
  return {
    agent: Number(token.slice(0, 4)),
    path: Number(token.slice(4, 6)),
    nonce: Number(token.slice(6, 12)),
    mac: token.slice(12),
  };
}

/** True when the token's MAC is right for `secret` (constant-time comparison). */
export function verifyProbeToken(token: string, secret: string | Buffer): boolean {
  if (!parseProbeToken(token)) return false;
  const expected = Buffer.from(mac(token.slice(0, 12), secret));
  return timingSafeEqual(expected, Buffer.from(token.slice(12)));
}
