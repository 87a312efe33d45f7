import { createHash } from "node:crypto";

const md5 = (text: string) => createHash("md5").update(text).digest("hex");

/** Inputs of an RFC 2617 / RFC 3261 MD5 digest response. */
export interface DigestInput {
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** "auth" needs nc and cnonce; omitted means the RFC 2069-compatible form. */
  qop?: "auth";
  nc?: string;
  cnonce?: string;
}

/** Computes the `response` parameter of a Digest (Proxy-)Authorization header. */
export function digestResponse(input: DigestInput): string {
  const ha1 = md5(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = md5(`${input.method}:${input.uri}`);
  if (input.qop === "auth") {
    if (!input.nc || !input.cnonce) throw new Error("digestResponse: qop=auth needs nc and cnonce");
    return md5(`${ha1}:${input.nonce}:${input.nc}:${input.cnonce}:${input.qop}:${ha2}`);
  }
  return md5(`${ha1}:${input.nonce}:${ha2}`);
}
