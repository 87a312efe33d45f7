import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  type AgentRun,
  agentConfig,
  agentJournalFiles,
  agentLogTail,
  eventually,
  startAgent,
  writeSecret,
} from "../support/agent.js";
import { runCli } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { metricSum, metricValue, type ResponderRun, startResponder } from "../support/responder.js";

// Bad input and a hostile world: a configuration that cannot work is refused at start with every
// problem named; once running, a missing secret, a dead proxy, a vanished answering point and a
// full disk each show up as what they are, and the agent keeps probing through all of them.

const ip = uniqueLoopback();
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "p112-agent-bad-"));
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function answeringPoint(port?: number): Promise<{ run: ResponderRun; port: number }> {
  const p = port ?? (await freePort("udp", ip));
  const run = await startResponder({
    args: ["--listen", `udp:${ip}:${p}`, "--allow", `${ip}/32`, "--per-caller-per-minute", "600"],
  });
  return { run, port: p };
}

describe("probe112 agent with a configuration that cannot work", () => {
  it("exits 2 and names every problem with its path", async () => {
    const dir = tempDir();
    const file = join(dir, "agent.yaml");
    writeFileSync(
      file,
      stringify({
        agent: { id: "Bad Id", operator: "test", region: "loopback", maxCallsPerMinute: 100000 },
        providers: [{ id: "p1" }],
        paths: [{ id: "path-a", number: 1, provider: "nobody", access: "pstn", colour: "red" }],
        destinations: [{ id: "test-112", uri: "tel:112", role: "test112" }],
        checks: [
          { paths: ["path-a", "path-z"], destinations: ["test-112"], interval: 0, hold: 5, timeout: 2 },
        ],
      }),
    );
    const r = await runCli(["agent", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^probe112 agent: invalid configuration\n/);
    const problems = r.stderr.split("\n").filter((l) => l.startsWith(`${file}: `));
    const at = (path: string) => problems.find((l) => l.startsWith(`${file}: ${path}: `));
    expect(at("agent.id"), r.stderr).toMatch(/a–z, 0–9/);
    expect(at("agent.maxCallsPerMinute"), r.stderr).toBeDefined();
    expect(at("paths[0]"), r.stderr).toMatch(/unknown key "colour"/);
    expect(at("paths[0].access"), r.stderr).toMatch(/one of fixed, voip, volte, cs, vowifi/);
    expect(at("destinations[0].uri"), r.stderr).toMatch(/sip: or sips: URI/);
    expect(at("checks[0].interval"), r.stderr).toMatch(/at least 1 s/);
    const check = await runCli(["config", "check", file]);
    expect(check.code).toBe(2);
    for (const p of problems) expect(check.stderr).toContain(p);
  });

  it("exits 2 naming a cross-reference that leads nowhere", async () => {
    const dir = tempDir();
    const file = join(dir, "agent.yaml");
    const config = agentConfig({
      ip,
      httpPort: 9,
      paths: { "path-a": { provider: "nobody" } },
      destinations: { "test-112": { uri: `sip:112@${ip}`, fallbacks: ["nowhere"] } },
      checks: [{ paths: ["path-a", "path-z"], destinations: ["test-112"] }],
    });
    writeFileSync(file, stringify(config));
    const r = await runCli(["agent", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: paths[0].provider: no provider "nobody"`);
    expect(r.stderr).toContain(`${file}: destinations[0].fallbacks[0]: no destination "nowhere"`);
    expect(r.stderr).toContain(`${file}: checks[0].paths[1]: no path "path-z"`);
  });

  it("exits 2 when the file is missing or a secret the agent needs at start cannot be read", async () => {
    const dir = tempDir();
    const missing = await runCli(["agent", "--config", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read the file: ENOENT");
    const file = join(dir, "agent.yaml");
    const secret = join(dir, "no-such-token");
    writeFileSync(
      file,
      stringify(
        agentConfig({
          ip,
          httpPort: await freePort("tcp", ip),
          agent: { http: { sweepToken: { file: secret } } },
          paths: { "path-a": {} },
          destinations: { "test-112": `sip:112@${ip}` },
        }),
      ),
    );
    const r = await runCli(["agent", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`agent.http.sweepToken: cannot read secret file ${secret}: ENOENT`);
  });
});

describe("a running agent whose paths fail for different reasons", () => {
  let responder: ResponderRun;
  let agent: AgentRun;
  const OK = "path-ok.test-112";
  const NO_SECRET = "path-no-secret.test-112";
  const DEAD_PROXY = "path-dead-proxy.test-112";

  beforeAll(async () => {
    const { run, port } = await answeringPoint();
    responder = run;
    const dir = tempDir();
    agent = await startAgent({
      dir,
      keepDir: true,
      config: agentConfig({
        ip,
        httpPort: await freePort("tcp", ip),
        paths: {
          "path-ok": { credentials: { username: "probe", password: writeSecret(dir, "pw", "secret") } },
          "path-no-secret": {
            credentials: { username: "probe", password: { file: join(dir, "missing-password") } },
          },
          "path-dead-proxy": { proxy: `sip:${ip}:${await freePort("udp", ip)}` },
        },
        destinations: { "test-112": `sip:112@${ip}:${port}` },
        check: { interval: 3, timeout: 2, hold: 0.2, media: "none", confirmAfter: 0.5 },
      }),
    });
    await eventually(
      () => {
        const j = agent.journal();
        return [OK, NO_SECRET, DEAD_PROXY].every((c) => j.filter((r) => r.check === c).length >= 2);
      },
      30_000,
      () => `two results of every check; agent log:\n${agentLogTail(agent)}`,
    );
  }, 45_000);

  afterAll(async () => {
    const exit = await agent?.stop();
    await responder?.stop();
    expect(exit?.code).toBe(0);
  });

  it("a missing password file ends that path's calls as probe_error, counted apart and never against the provider", async () => {
    const mine = agent.journal().filter((r) => r.check === NO_SECRET);
    for (const r of mine) {
      expect(r.outcome).toBe("probe_error");
      expect(r.reason).toContain("paths[path-no-secret].credentials.password: cannot read secret file");
    }
    const text = await agent.scrape();
    const attempts = metricSum(text, "probe112_call_attempts_total", { check: NO_SECRET });
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(
      metricSum(text, "probe112_call_attempts_total", { check: NO_SECRET, outcome: "probe_error" }),
    ).toBe(attempts);
    expect(metricValue(text, "probe112_probe_errors_total", { reason: "secret" })).toBeGreaterThanOrEqual(
      attempts,
    );
    expect(metricValue(text, "probe112_check_up", { check: NO_SECRET }), "our fault is not an outage").toBe(
      1,
    );
    expect(
      text
        .split("\n")
        .some((l) => l.startsWith(`probe112_probe_success{check="${NO_SECRET}"`) && l.endsWith(" 0")),
      "no failed probe is reported for the provider",
    ).toBe(false);
    const errors = agent.logLines().filter((l) => l.check === NO_SECRET && l.level === 50);
    expect(errors.length).toBeGreaterThan(0);
  });

  it("the other paths are unaffected: the working one keeps succeeding", async () => {
    const ok = agent.journal().filter((r) => r.check === OK);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(ok.every((r) => r.success && r.outcome === "answered")).toBe(true);
    expect(await agent.metric("probe112_check_up", { check: OK })).toBe(1);
  });

  it("an outbound proxy nobody listens on gives transport_error or timeout, and the agent stays healthy and ready", async () => {
    const dead = agent.journal().filter((r) => r.check === DEAD_PROXY);
    expect(dead.length).toBeGreaterThanOrEqual(2);
    for (const r of dead) expect(["transport_error", "timeout"]).toContain(r.outcome);
    await eventually(
      async () => (await agent.metric("probe112_check_up", { check: DEAD_PROXY })) === 0,
      15_000,
      "the dead-proxy path confirmed down",
    );
    expect((await fetch(`${agent.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${agent.url}/-/ready`)).status).toBe(200);
  });
});

describe("the answering point goes away and comes back", () => {
  let agent: AgentRun | undefined;
  let responder: ResponderRun | undefined;

  afterEach(async () => {
    await agent?.stop();
    await responder?.stop();
  });

  it("calls fail, the check is confirmed down (probe112_check_up 0), and it is up again once calls succeed", async () => {
    const first = await answeringPoint();
    responder = first.run;
    const check = "path-a.test-112";
    agent = await startAgent({
      config: agentConfig({
        ip,
        httpPort: await freePort("tcp", ip),
        paths: { "path-a": {} },
        destinations: { "test-112": `sip:112@${ip}:${first.port}` },
        // The re-probe comes before the next slot only if the interval leaves room for it.
        check: { interval: 4, timeout: 1.5, hold: 0.2, media: "none", confirmAfter: 0.5 },
      }),
    });
    const a = agent;
    await eventually(() => a.journal().some((r) => r.success), 15_000, "a first successful call");
    expect((await responder.stop()).code).toBe(0);
    responder = undefined;
    await eventually(
      async () => (await a.metric("probe112_check_up", { check })) === 0,
      20_000,
      () => `the check confirmed down; agent log:\n${agentLogTail(a)}`,
    );
    const failed = a.journal().filter((r) => !r.success);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed.map((r) => r.attempt)).toContain("confirm");
    expect(a.logLines().some((l) => l.msg === "check down: failure confirmed" && l.check === check)).toBe(
      true,
    );
    expect(await a.metric("probe112_probe_success", labelsOf("path-a"))).toBe(0);

    responder = (await answeringPoint(first.port)).run;
    await eventually(
      async () => (await a.metric("probe112_check_up", { check })) === 1,
      20_000,
      () => `the check up again; agent log:\n${agentLogTail(a)}`,
    );
    expect(a.logLines().some((l) => l.msg === "check recovered" && l.check === check)).toBe(true);
    expect(a.journal().at(-1)?.success).toBe(true);
  }, 60_000);
});

describe("a full disk under the journal", () => {
  let mountPoint: string | undefined;
  let agent: AgentRun | undefined;
  let responder: ResponderRun | undefined;

  afterAll(async () => {
    await agent?.stop();
    await responder?.stop();
    if (mountPoint) {
      try {
        execFileSync("umount", [mountPoint]);
      } catch {
        execFileSync("umount", ["-l", mountPoint]);
      }
    }
  });

  it("keeps probing, counts probe112_journal_write_errors_total and names ENOSPC in its log", async () => {
    const dir = tempDir();
    mountPoint = join(dir, "small-fs");
    mkdirSync(mountPoint);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", mountPoint]);
    const journalDir = join(mountPoint, "journal");
    mkdirSync(journalDir);
    // Leave one page free: a record or so fits, then the disk is full.
    const free = () => {
      const s = statfsSync(mountPoint!);
      return s.bavail * s.bsize;
    };
    writeFileSync(join(mountPoint, "filler"), Buffer.alloc(free() - 4096));
    expect(free()).toBe(4096);

    const ap = await answeringPoint();
    responder = ap.run;
    agent = await startAgent({
      config: agentConfig({
        ip,
        httpPort: await freePort("tcp", ip),
        agent: { journalDir },
        paths: { "path-a": {}, "path-b": {} },
        destinations: { "test-112": `sip:112@${ip}:${ap.port}` },
        check: { interval: 2, timeout: 3, hold: 0.2, media: "none" },
      }),
    });
    const a = agent;
    await eventually(
      async () => (await a.metricSum("probe112_journal_write_errors_total")) >= 2,
      30_000,
      () => `journal write errors; agent log:\n${agentLogTail(a)}`,
    );
    const answered = await a.metricSum("probe112_call_attempts_total", { outcome: "answered" });
    const errors = await a.metricSum("probe112_journal_write_errors_total");
    await eventually(
      async () =>
        (await a.metricSum("probe112_call_attempts_total", { outcome: "answered" })) >= answered + 2 &&
        (await a.metricSum("probe112_journal_write_errors_total")) >= errors + 2,
      15_000,
      "more calls answered, and each one's journal write failing",
    );
    const logged = a.logLines().filter((l) => l.msg === "could not write the result to the journal");
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(String(logged[0]!.err)).toMatch(/ENOSPC/);
    expect((await fetch(`${a.url}/-/healthy`)).status).toBe(200);
    expect(await a.metric("probe112_probe_success", labelsOf("path-a"))).toBe(1);
  }, 60_000);

  it("what did reach the full disk is whole lines: no record cut in half", () => {
    const files = agentJournalFiles(join(mountPoint!, "journal"));
    expect(files).toHaveLength(1);
    const text = readFileSync(files[0]!, "utf8");
    const lines = text.split("\n");
    expect(lines.at(-1), "the file ends with a newline").toBe("");
    for (const l of lines.slice(0, -1)) expect(() => JSON.parse(l), l.slice(-80)).not.toThrow();
  });
});

function labelsOf(path: string): Record<string, string> {
  return {
    check: `${path}.test-112`,
    provider: "test-provider",
    path,
    access: "voip",
    transport: "udp",
    destination: "test-112",
    role: "test112",
  };
}
