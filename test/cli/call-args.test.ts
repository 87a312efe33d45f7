import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { PASSWORD_ENV, toCallOptions } from "../../src/cli/call.js";
import { UsageError } from "../../src/cli/usage-error.js";

const logger = pino({ level: "silent" });
const base = {
  target: "sip:112@192.0.2.10:5060",
  transport: "udp" as const,
  hold: 2,
  "ring-timeout": 30,
  timeout: 60,
  "tls-no-verify": false,
  json: false,
  messages: false,
  media: "loopback" as const,
  "dtmf-token": true,
  "log-level": "warn" as const,
  "log-format": "auto" as const,
};
const dir = mkdtempSync(join(tmpdir(), "p112-args-"));

function usage(args: Record<string, unknown>): UsageError {
  try {
    toCallOptions({ ...base, ...args } as Parameters<typeof toCallOptions>[0], logger);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error("expected a usage error");
}

describe("probe112 call: flag validation names the flag and the fix", () => {
  afterEach(() => {
    delete process.env[PASSWORD_ENV];
  });

  it.each([
    [{ target: "tel:112" }, "<target>", /not a sip: or sips: URI/],
    [{ target: "sips:112@example.net" }, "--transport", /sips: target needs --transport tls/],
    [{ proxy: "sbc.example.net" }, "--proxy", /not a sip: URI/],
    [{ from: "alice" }, "--from", /not a sip: URI/],
    [{ timeout: Number.NaN }, "--timeout", /number of seconds/],
    [{ hold: -1 }, "--hold", /≥ 0/],
    [{ timeout: 2, hold: 2 }, "--timeout", /must be longer than --hold/],
    [{ "ring-timeout": 0 }, "--ring-timeout", /number of seconds/],
    [{ header: ["Via: SIP/2.0/UDP x"] }, "--header", /written by the SIP stack/],
    [{ header: ["no colon"] }, "--header", /expected "Name: value"/],
    [{ user: "probe" }, "--user", new RegExp(`--password-file FILE or \\$${PASSWORD_ENV}`)],
    [{ "password-file": "/x" }, "--password-file", /needs --user/],
    [{ token: "has space" }, "--token", /1–64 characters/],
    [
      { user: "p", "password-file": "/nonexistent/pw" },
      "--password-file",
      /cannot read \/nonexistent\/pw: ENOENT/,
    ],
    [{ "local-address": "localhost" }, "--local-address", /not an IP address/],
    [{ "local-port": 70000 }, "--local-port", /0–65535/],
    [{ transport: "tcp", "local-port": 5060 }, "--local-port", /udp only/],
    [{ "tls-ca": "/x" }, "--transport", /TLS options given/],
    [{ transport: "tls", "tls-cert": "/x" }, "--tls-key", /needs both/],
    [{ transport: "tls", "tls-ca": "/nonexistent/ca.pem" }, "--tls-ca", /cannot read/],
  ])("%o → %s", (args, flag, message) => {
    const e = usage(args);
    expect(e.flag).toBe(flag);
    expect(e.message).toMatch(message);
  });

  it("an empty password file is refused with the fix", () => {
    const f = join(dir, "empty");
    writeFileSync(f, "");
    expect(usage({ user: "p", "password-file": f }).message).toMatch(
      /is empty: put the password on its first line/,
    );
  });

  it("reads the password from the first line of the file, or from the environment", () => {
    const f = join(dir, "pw");
    writeFileSync(f, "s3cret\nignored\n");
    const o = toCallOptions({ ...base, user: "probe", "password-file": f }, logger);
    expect(o.credentials).toEqual({ username: "probe", password: "s3cret" });
    process.env[PASSWORD_ENV] = "from-env";
    expect(toCallOptions({ ...base, user: "probe" }, logger).credentials?.password).toBe("from-env");
  });

  it("turns valid flags into call options, TLS verification on unless asked", () => {
    const o = toCallOptions(
      {
        ...base,
        transport: "tls",
        proxy: "sip:sbc.example.net",
        header: ["X-Site: ams1"],
        pai: "sip:+3120@x",
        "ip-version": 6,
      },
      logger,
    );
    expect(o).toMatchObject({
      transport: "tls",
      proxy: "sip:sbc.example.net",
      headers: ["X-Site: ams1"],
      pAssertedIdentity: "sip:+3120@x",
      family: 6,
      holdSeconds: 2,
      ringTimeoutSeconds: 30,
      timeoutSeconds: 60,
      tls: { verify: true },
    });
    expect(toCallOptions({ ...base, transport: "tls", "tls-no-verify": true }, logger).tls).toEqual({
      verify: false,
    });
  });
});
