import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SecretError } from "../config/secrets.js";
import { keyIdOf, type SigningKey, signingKeyFromPem } from "./evidence.js";

export interface GeneratedKeys {
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  readonly keyId: string;
}

/**
 * Creates an Ed25519 key pair for signing journals: `<name>.key` (PKCS#8 PEM, readable by its
 * owner alone) stays with the instance; `<name>.pub` (SPKI PEM) goes to whoever verifies, such as
 * the regulator. An existing key is never overwritten.
 */
export function generateJournalKeys(dir: string, name: string): GeneratedKeys {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKeyFile = join(dir, `${name}.key`);
  const publicKeyFile = join(dir, `${name}.pub`);
  if (existsSync(privateKeyFile) || existsSync(publicKeyFile)) {
    throw new Error(`${privateKeyFile} or ${publicKeyFile} exists already: keys are never overwritten`);
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  writeFileSync(privateKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
    flag: "wx",
  });
  chmodSync(privateKeyFile, 0o600);
  writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }), {
    mode: 0o644,
    flag: "wx",
  });
  return { privateKeyFile, publicKeyFile, keyId: keyIdOf(publicKey) };
}

/** Loads the signing key of an instance; the error names the file and what is wrong with it. */
export function loadJournalKey(file: string): SigningKey {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    throw new SecretError(
      `journalKeyFile: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return signingKeyFromPem(pem);
  } catch (e) {
    throw new SecretError(
      `journalKeyFile: ${file} is not an Ed25519 private key (probe112 keys generate makes one): ${(e as Error).message}`,
    );
  }
}

/** The key id of a public key file, to print next to verification results. */
export function publicKeyId(pem: string): string {
  return keyIdOf(createPublicKey(pem));
}
