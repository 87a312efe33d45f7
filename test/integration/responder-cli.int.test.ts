import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, call } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ExitResult, spawnManaged } from "../support/process.js";
import { type ResponderRun, startResponder } from "../support/responder.js";

// How `probe112 responder` refuses to start on bad flags or configuration: exit 2 and a message
// that names what to fix. And the few ways of starting it that must work.

const ip = uniqueLoopback();
let dir: string;
let responder: ResponderRun | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "p112-responder-cli-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  const r = responder;
  responder = undefined;
  if (r) expect((await r.stop()).code, "the responder exits 0 on SIGTERM").toBe(0);
});

/** Runs the responder expecting it to refuse; one that starts anyway is stopped and reported. */
async function refused(args: string[]): Promise<ExitResult> {
  const p = spawnManaged(process.execPath, [CLI, "responder", ...args], { name: "probe112 responder" });
  const timer = setTimeout(() => void p.stop("SIGTERM", 1000), 8000);
  const r = await p.exited;
  clearTimeout(timer);
  expect(r.signal, `it started instead of refusing:\n${r.stderr}`).toBeNull();
  return r;
}

function yaml(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("usage and configuration errors: exit 2, naming what is wrong", () => {
  it("no --listen (and no configuration): names --listen", async () => {
    const r = await refused([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--listen");
  });

  it("a malformed --listen: names the path and the expected form", async () => {
    const r = await refused(["--listen", "udp-127.0.0.1-5060"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("responder.listen[0]");
    expect(r.stderr).toContain("PROTOCOL:IP:PORT");
  });

  it("a configuration with an unknown key, a bad CIDR and an inline secret: every problem with its path", async () => {
    const path = yaml(
      "three-problems.yaml",
      `responder:
  listen: ["udp:${ip}:5060"]
  colour: blue
  access:
    allow: ["10.0.0.0/33"]
    agents:
      - id: kpn-probe
        number: 4711
        secret: "abc"
`,
    );
    const r = await refused(["--config", path]);
    expect(r.code).toBe(2);
    const lines = r.stderr.split("\n");
    const problem = (p: string) => lines.find((l) => l.startsWith(`${path}: ${p}: `));
    expect(problem("responder"), r.stderr).toMatch(/unknown key "colour"/);
    expect(problem("responder.access.allow[0]"), r.stderr).toMatch(/CIDR/);
    expect(problem("responder.access.agents[0].secret"), r.stderr).toBeDefined();
    expect(r.stderr).not.toContain("abc");
  });

  it("a secret file that does not exist: names the file", async () => {
    const missing = join(dir, "no-such-secret");
    const path = yaml(
      "missing-secret.yaml",
      `responder:
  listen: ["udp:${ip}:5060"]
  access:
    agents:
      - id: kpn-probe
        number: 4711
        secret: { file: "${missing}" }
`,
    );
    const r = await refused(["--config", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain("responder.access.agents[0].secret");
  });

  it("a tls listener without --tls-cert: a configuration error naming --tls-cert", async () => {
    const r = await refused(["--listen", `tls:${ip}:${await freePort("tcp", ip)}`, "--allow", `${ip}/32`]);
    expect(r.stderr).toMatch(/--tls-cert/);
    expect(r.code).toBe(2);
  });
});

describe("ways of starting that must work", () => {
  it("--listen udp:IP:0: the OS picks the port, the ready line names it, and it answers", async () => {
    responder = await startResponder({ args: ["--listen", `udp:${ip}:0`, "--allow", `${ip}/32`] });
    const [l] = responder.listeners;
    expect(l).toMatchObject({ protocol: "udp", address: ip });
    expect(l!.port).toBeGreaterThan(0);
    const r = await call(`sip:112@${ip}:${l!.port}`, { localAddress: ip });
    expect(r.outcome, r.reason).toBe("answered");
  });

  it("a configuration file without listeners, completed by --listen", async () => {
    const path = yaml(
      "no-listen.yaml",
      `responder:\n  name: "From the file"\n  access:\n    allow: ["${ip}/32"]\n`,
    );
    const port = await freePort("udp", ip);
    responder = await startResponder({ args: ["--config", path, "--listen", `udp:${ip}:${port}`] });
    const r = await call(`sip:112@${ip}:${port}`, { localAddress: ip });
    expect(r.outcome, r.reason).toBe("answered");
    expect(r.farEnd?.text?.split(/\r?\n/)[0]).toBe("From the file");
  });
});
