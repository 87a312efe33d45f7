import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCidr, parseHostPort, parseListen } from "../../src/config/common-schema.js";
import { ConfigError, loadConfigFile } from "../../src/config/load.js";
import { responderConfigSchema } from "../../src/config/responder-config.js";
import { readSecret, SecretError } from "../../src/config/secrets.js";

const dir = mkdtempSync(join(tmpdir(), "p112-cfg-"));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}
function problems(text: string): string[] {
  try {
    loadConfigFile(file(`c${Math.random()}.yaml`, text), responderConfigSchema);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("responder configuration", () => {
  afterEach(() => {
    delete process.env.P112_TEST_SECRET;
  });

  it("fills defaults around a minimal file", () => {
    const c = loadConfigFile(
      file("min.yaml", "responder:\n  listen: [udp:0.0.0.0:5060]\n"),
      responderConfigSchema,
    ).responder;
    expect(c).toMatchObject({
      listen: ["udp:0.0.0.0:5060"],
      destinations: ["112", "urn:service:test.sos"],
      answer: { ringMs: 0, holdSeconds: 30, media: "loopback" },
      limits: { concurrentTests: 20, perCallerPerMinute: 30 },
      access: { allow: [], agents: [] },
    });
  });

  it("names the path and the expected form of every problem", () => {
    const got = problems(
      [
        "responder:",
        "  listen: [udp:0.0.0.0:5060, sctp:1.2.3.4:5060]",
        "  metrics: localhost:9112",
        "  destinations: [urn:service:sos]",
        "  lisen: []",
        "  access:",
        "    allow: [10.0.0.0/33]",
        "    agents:",
        "      - id: KPN",
        "        number: 1001",
        "        secret: abc",
      ].join("\n"),
    );
    expect(got).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^responder\.listen\[1\]: expected PROTOCOL:IP:PORT/),
        expect.stringMatching(/^responder\.metrics: expected IP:PORT/),
        expect.stringMatching(/^responder\.destinations\[0\]: a number .* or a test service URN/),
        expect.stringMatching(/^responder: unknown key "lisen"/),
        expect.stringMatching(/^responder\.access\.allow\[0\]: expected a network in CIDR notation/),
        expect.stringMatching(/^responder\.access\.agents\[0\]\.id: use 1–63 characters/),
        expect.stringMatching(/^responder\.access\.agents\[0\]\.secret: /),
      ]),
    );
  });

  it("refuses a secret written inline and asks for file or env", () => {
    expect(
      problems(
        "responder:\n  listen: [udp:0.0.0.0:5060]\n  access:\n    agents:\n      - {id: a, number: 1, secret: {file: /x, env: Y}}\n",
      ),
    ).toEqual([expect.stringMatching(/secret: give exactly one of `file` or `env`/)]);
  });

  it("reports unreadable files and bad YAML with position", () => {
    expect(() => loadConfigFile(join(dir, "missing.yaml"), responderConfigSchema)).toThrow(ConfigError);
    expect(problems("responder:\n  listen: [udp:0.0.0.0:5060\n")).toEqual([
      expect.stringMatching(/^line \d+, column \d+: not valid YAML/),
    ]);
  });

  it("reads secrets from a file's first line or the environment, never echoing them in errors", () => {
    const f = file("secret", "hunter2\nignored\n");
    expect(readSecret({ file: f }, "x")).toBe("hunter2");
    process.env.P112_TEST_SECRET = "from-env";
    expect(readSecret({ env: "P112_TEST_SECRET" }, "x")).toBe("from-env");
    expect(() => readSecret({ env: "P112_UNSET_SECRET" }, "agents[0].secret")).toThrow(
      /agents\[0\]\.secret: environment variable P112_UNSET_SECRET is not set/,
    );
    expect(() => readSecret({ file: file("empty", "") }, "s")).toThrow(SecretError);
  });

  it("parses listeners, host:port and CIDR blocks", () => {
    expect(parseListen("tls:[::1]:5061")).toEqual({ protocol: "tls", host: "::1", port: 5061 });
    expect(parseListen("udp:example.com:5060")).toBeUndefined();
    expect(parseListen("udp:1.2.3.4:70000")).toBeUndefined();
    expect(parseHostPort("[::1]:9112")).toEqual({ host: "::1", port: 9112 });
    expect(parseCidr("192.0.2.1")).toEqual({ address: "192.0.2.1", prefix: 32, family: 4 });
    expect(parseCidr("10.0.0.0/x")).toBeUndefined();
  });
});
