import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";

/**
 * Tamper evidence for journals. Every line carries its sequence number, the SHA-256 of the line
 * before it (across daily files: a chain per journal) and, when the instance has a key, an
 * Ed25519 signature over the line's own bytes up to the signature. Editing, removing, inserting
 * or reordering a line breaks the chain; forging a consistent chain needs the private key.
 */

/** The hash a journal chain starts from. */
export const GENESIS = "0".repeat(64);

/** A private key to sign journal lines with, and the id of its public half. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly keyId: string;
}

/** Short, stable id of a public key: the first 16 hex digits of the SHA-256 of its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

/** Reads an Ed25519 private key (PKCS#8 PEM). */
export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new Error(`not an Ed25519 key (${privateKey.asymmetricKeyType})`);
  return { privateKey, keyId: keyIdOf(createPublicKey(privateKey)) };
}

/** Reads an Ed25519 public key (SPKI PEM). */
export function publicKeyFromPem(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`not an Ed25519 key (${key.asymmetricKeyType})`);
  return key;
}

/** SHA-256 (hex) of a journal line, without its newline. */
export function lineHash(line: string): string {
  return createHash("sha256").update(line, "utf8").digest("hex");
}

const SIG = ',"sig":"';

/**
 * One sealed journal line: `seq` and `prev` first, then the record, then `kid` and `sig` when
 * signed. The signature covers the exact bytes before `,"sig":"`, so a verifier needs no
 * canonical JSON: it checks the bytes that are there.
 */
export function sealLine(
  record: Record<string, unknown>,
  seq: number,
  prev: string,
  key?: SigningKey,
): string {
  const { seq: _s, prev: _p, kid: _k, sig: _g, ...rest } = record;
  const body = JSON.stringify({ seq, prev, ...rest, ...(key ? { kid: key.keyId } : {}) });
  if (!key) return body;
  const unsigned = body.slice(0, -1);
  const sig = sign(null, Buffer.from(unsigned, "utf8"), key.privateKey).toString("base64");
  return `${unsigned}${SIG}${sig}"}`;
}

/** What a line says about itself; undefined when it is not a sealed line. */
export interface LineSeal {
  readonly seq: number;
  readonly prev: string;
  readonly kid: string | undefined;
  /** The bytes the signature covers, and the signature, when signed. */
  readonly signed: { readonly bytes: string; readonly sig: Buffer } | undefined;
  readonly record: Record<string, unknown>;
}

/** Parses a sealed line; undefined when it is not JSON or lacks seq/prev. */
export function readSeal(line: string): LineSeal | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof record !== "object" || record === null) return undefined;
  const { seq, prev, kid, sig } = record;
  if (typeof seq !== "number" || typeof prev !== "string") return undefined;
  const at = line.lastIndexOf(SIG);
  const signed =
    typeof sig === "string" && at > 0
      ? { bytes: line.slice(0, at), sig: Buffer.from(sig, "base64") }
      : undefined;
  return { seq, prev, kid: typeof kid === "string" ? kid : undefined, signed, record };
}

/** True when the line's signature is valid for `publicKey`. */
export function signatureValid(seal: LineSeal, publicKey: KeyObject): boolean {
  if (!seal.signed) return false;
  try {
    return verify(null, Buffer.from(seal.signed.bytes, "utf8"), publicKey, seal.signed.sig);
  } catch {
    return false;
  }
}
