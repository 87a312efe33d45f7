import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./process.js";

/** File paths of a throw-away PKI for TLS tests. */
export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  /** Signed by the CA; SAN IP:127.0.0.1, IP:::1, DNS:localhost plus any extras. */
  serverCert: string;
  serverKey: string;
  /** Signed by the CA, extendedKeyUsage clientAuth, CN probe112-client (for mutual TLS). */
  clientCert: string;
  clientKey: string;
  /** Self-signed and unrelated to the CA, with the same SANs as the server (for "wrong CA" tests). */
  rogueCert: string;
  rogueKey: string;
  /** All SAN entries put into the server and rogue certificates. */
  sans: string[];
}

/** Options for {@link makeTestPki}. */
export interface TestPkiOptions {
  /** Extra SAN entries in openssl syntax, e.g. "IP:127.10.0.5" or "DNS:proxy.test". */
  extraSans?: string[];
}

const cache = new Map<string, Promise<TestPki>>();
const ownDirs = new Set<string>();

/** Removes the PKI directories made by {@link makeTestPki} and forgets them. */
export function removeTestPkis(): void {
  for (const dir of ownDirs) rmSync(dir, { recursive: true, force: true });
  ownDirs.clear();
  cache.clear();
}

process.once("exit", removeTestPkis);

async function openssl(args: string[]): Promise<void> {
  await run("openssl", args, 30000);
}

async function ecKey(path: string): Promise<void> {
  // EC keys are generated in milliseconds, unlike RSA, which keeps suites fast.
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path]);
}

async function createPki(dir: string, extraSans: string[]): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const sans = ["IP:127.0.0.1", "IP:::1", "DNS:localhost", ...extraSans];
  const pki: TestPki = {
    dir,
    caCert: p("ca.pem"),
    caKey: p("ca.key"),
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    clientCert: p("client.pem"),
    clientKey: p("client.key"),
    rogueCert: p("rogue.pem"),
    rogueKey: p("rogue.key"),
    sans,
  };
  writeFileSync(
    p("server.ext"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans.join(",")}\n`,
  );
  writeFileSync(
    p("client.ext"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );

  await Promise.all([ecKey(pki.caKey), ecKey(pki.serverKey), ecKey(pki.clientKey), ecKey(pki.rogueKey)]);
  const days = ["-days", "30"];
  await openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    pki.caKey,
    "-subj",
    "/CN=probe112 test CA",
    ...days,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    pki.caCert,
  ]);
  const sign = async (name: "server" | "client", cn: string) => {
    await openssl(["req", "-new", "-key", p(`${name}.key`), "-subj", `/CN=${cn}`, "-out", p(`${name}.csr`)]);
    await openssl([
      "x509",
      "-req",
      "-in",
      p(`${name}.csr`),
      "-CA",
      pki.caCert,
      "-CAkey",
      pki.caKey,
      "-CAcreateserial",
      ...days,
      "-extfile",
      p(`${name}.ext`),
      "-out",
      p(`${name}.pem`),
    ]);
  };
  // Sequential: both signings update the CA serial file.
  await sign("server", "localhost");
  await sign("client", "probe112-client");
  await openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    pki.rogueKey,
    "-subj",
    "/CN=localhost",
    ...days,
    "-addext",
    `subjectAltName=${sans.join(",")}`,
    "-out",
    pki.rogueCert,
  ]);
  return pki;
}

/**
 * Creates (once per process and directory/SAN set) a test CA, a CA-signed server and client
 * certificate and an unrelated self-signed certificate, using the openssl CLI.
 */
export function makeTestPki(dir?: string, options: TestPkiOptions = {}): Promise<TestPki> {
  const extraSans = options.extraSans ?? [];
  const cacheKey = `${dir ?? ""}|${extraSans.join(",")}`;
  let pending = cache.get(cacheKey);
  if (!pending) {
    let target = dir;
    if (!target) {
      // Only directories made here are removed on exit; a caller's directory is left alone.
      target = mkdtempSync(join(tmpdir(), "p112-pki-"));
      ownDirs.add(target);
    }
    pending = createPki(target, extraSans);
    cache.set(cacheKey, pending);
    pending.catch(() => cache.delete(cacheKey));
  }
  return pending;
}
