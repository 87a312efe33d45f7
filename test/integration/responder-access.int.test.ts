import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { issueProbeToken } from "../../src/results/probe-token.js";
import { runCli } from "../support/call.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { type KamailioInstance, startKamailio } from "../support/kamailio.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { metricValue, type ResponderRun, startResponder } from "../support/responder.js";

// Who gets a test from the real responder process: signed probe tokens (agents and secrets from
// a configuration file), digest credentials, mutual TLS, each tried by `probe112 call` from an
// address that no allow list names.

const ip = uniqueLoopback();
/** The prober's address: never in an allow list. */
const outsider = (() => {
  let a = uniqueLoopback();
  while (a === ip) a = uniqueLoopback();
  return a;
})();
const AGENT = { id: "kpn-probe", number: 4711, path: 1, callerId: "+31201234567" };
const SECRET = "agent-secret-4711-never-on-the-wire";
const DIGEST_PASSWORD = "digest-pw-right";
let dir: string;
let pki: TestPki;
let responder: ResponderRun | undefined;
let proxy: KamailioInstance | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "p112-access-"));
  writeFileSync(join(dir, "agent-secret"), `${SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "digest-password"), `${DIGEST_PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "wrong-password"), "digest-pw-WRONG\n", { mode: 0o600 });
  pki = await makeTestPki(undefined, { extraSans: [`IP:${ip}`] });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  const r = responder;
  responder = undefined;
  if (r) expect((await r.stop()).code, "the responder exits 0 on SIGTERM").toBe(0);
});

/** Writes a configuration with one listener and the `access` block given (secrets by file reference). */
async function config(name: string, listen: string, access: string): Promise<string> {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `responder:
  name: "Access test PSAP"
  listen: ["${listen}"]
  metrics: "127.0.0.1:${await freePort("tcp")}"
  answer:
    holdSeconds: 30
  access:
${access.replaceAll("DIR", dir)}
`,
  );
  return path;
}

const agentsBlock = `    agents:
      - id: ${AGENT.id}
        number: ${AGENT.number}
        secret: { file: "DIR/agent-secret" }
        paths:
          "01": { name: kpn-sbc, callerId: "${AGENT.callerId}" }`;

async function startWith(configPath: string, extra: string[] = []): Promise<ResponderRun> {
  responder = await startResponder({ args: ["--config", configPath, ...extra], journal: true });
  return responder;
}

async function udpResponder(access: string): Promise<{ r: ResponderRun; target: string }> {
  const port = await freePort("udp", ip);
  const r = await startWith(await config("udp", `udp:${ip}:${port}`, access));
  return { r, target: `sip:112@${ip}:${port}` };
}

/** A test call from the outsider's address with extra CLI arguments. */
async function callFromOutside(target: string, args: string[]) {
  const run = await runCli(["call", target, "--local-address", outsider, "--hold", "0.2", "--json", ...args]);
  expect(run.json, `no JSON result (exit ${run.code}); stderr:\n${run.stderr}`).toBeDefined();
  return run;
}

describe("signed probe tokens (an agent from the configuration file)", () => {
  const allowElsewhere = `    allow: ["${ip}/32"]\n`;

  it("a valid token from an address in no allow list: answered; journal and metrics name the agent and path; the same token again: 403", async () => {
    const { r, target } = await udpResponder(allowElsewhere + agentsBlock);
    const token = issueProbeToken(AGENT.number, AGENT.path, SECRET);
    const first = await callFromOutside(target, ["--token", token]);
    expect(first.json?.outcome, first.json?.reason).toBe("answered");
    expect(first.code).toBe(0);
    const rec = await r.waitForJournal((j) => j.type === "test_call");
    expect(rec).toMatchObject({
      access: "token",
      agent: AGENT.id,
      path: "kpn-sbc",
      token,
      tokenState: { header: "valid" },
      outcome: "completed",
    });
    expect(rec.source).toMatch(new RegExp(`^${outsider.replace(/\./g, "\\.")}:`));
    const m = await r.scrape();
    expect(
      metricValue(m, "probe112_responder_test_calls_total", {
        agent: AGENT.id,
        path: "kpn-sbc",
        outcome: "completed",
      }),
    ).toBe(1);
    expect(metricValue(m, "probe112_responder_token_checks_total", { state: "valid", via: "header" })).toBe(
      1,
    );

    const replay = await callFromOutside(target, ["--token", token]);
    expect(replay.json?.finalStatus, replay.json?.reason).toBe(403);
    expect(replay.code).toBe(1);
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      reason: "bad_token",
      status: 403,
      token: "replayed",
    });
    const after = await r.scrape();
    expect(
      metricValue(after, "probe112_responder_token_checks_total", { state: "replayed", via: "header" }),
    ).toBe(1);
    expect(metricValue(after, "probe112_responder_rejects_total", { reason: "bad_token" })).toBe(1);
  });

  it("a token signed with the wrong secret: 403, counted as invalid", async () => {
    const { r, target } = await udpResponder(allowElsewhere + agentsBlock);
    const forged = issueProbeToken(AGENT.number, AGENT.path, "not-the-agent-secret");
    const run = await callFromOutside(target, ["--token", forged]);
    expect(run.json?.finalStatus, run.json?.reason).toBe(403);
    expect(run.code).toBe(1);
    const m = await r.scrape();
    expect(metricValue(m, "probe112_responder_token_checks_total", { state: "invalid", via: "header" })).toBe(
      1,
    );
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      token: "invalid",
      status: 403,
    });
  });

  it("the caller ID is compared with the one declared for the path, counted as match or mismatch, and never refused", async () => {
    const { r, target } = await udpResponder(allowElsewhere + agentsBlock);
    const matching = await callFromOutside(target, [
      "--token",
      issueProbeToken(AGENT.number, AGENT.path, SECRET),
      "--pai",
      `sip:${AGENT.callerId}@probe.example.net`,
    ]);
    const other = await callFromOutside(target, [
      "--token",
      issueProbeToken(AGENT.number, AGENT.path, SECRET),
      "--pai",
      "sip:+31209999999@probe.example.net",
    ]);
    expect(matching.json?.outcome, matching.json?.reason).toBe("answered");
    expect(other.json?.outcome, other.json?.reason).toBe("answered");
    const labels = { agent: AGENT.id, path: "kpn-sbc" };
    const deadline = Date.now() + 3000;
    let m = await r.scrape();
    while (
      metricValue(m, "probe112_responder_caller_id_checks_total", { ...labels, result: "mismatch" }) !== 1
    ) {
      expect(Date.now(), m).toBeLessThan(deadline);
      await new Promise((res) => setTimeout(res, 50));
      m = await r.scrape();
    }
    expect(metricValue(m, "probe112_responder_caller_id_checks_total", { ...labels, result: "match" })).toBe(
      1,
    );
    const checks = r
      .journal()
      .filter((j) => j.type === "test_call")
      .map((j) => j.callerId);
    expect(checks).toContainEqual(
      expect.objectContaining({ check: "mismatch", received: "+31209999999", source: "p-asserted-identity" }),
    );
  });
});

describe("digest credentials (access.digest)", () => {
  const digest = `    allow: ["${ip}/32"]
    digest:
      realm: probe112.test
      users:
        - username: probe
          password: { file: "DIR/digest-password" }`;

  it("without credentials: 401 with a challenge; with the right password: answered; with a wrong one: 403", async () => {
    const { r, target } = await udpResponder(digest);
    const none = await callFromOutside(target, []);
    expect(none.json?.finalStatus, none.json?.reason).toBe(401);
    expect(none.json?.outcome).toBe("auth_failure");
    const challenge = none.json?.trace.find((e) => e.status === 401)?.message ?? "";
    expect(challenge).toMatch(/^WWW-Authenticate: Digest realm="probe112\.test", nonce="[^"]+"/m);

    const right = await callFromOutside(target, [
      "--user",
      "probe",
      "--password-file",
      join(dir, "digest-password"),
    ]);
    expect(right.json?.outcome, right.json?.reason).toBe("answered");
    expect(right.code).toBe(0);
    expect(await r.waitForJournal((j) => j.type === "test_call")).toMatchObject({ access: "digest" });

    const wrong = await callFromOutside(target, [
      "--user",
      "probe",
      "--password-file",
      join(dir, "wrong-password"),
    ]);
    expect(wrong.json?.finalStatus, wrong.json?.reason).toBe(403);
    expect(wrong.code).toBe(1);
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({ reason: "bad_credentials" });
  });
});

describe("mutual TLS (--tls-client-cert optional)", () => {
  it("a client with a certificate from our CA gets a test from an address in no allow list; one without gets 403", async () => {
    const port = await freePort("tcp", ip);
    const path = await config("mtls", `tls:${ip}:${port}`, `    allow: ["${ip}/32"]`);
    const r = await startWith(path, [
      "--tls-cert",
      pki.serverCert,
      "--tls-key",
      pki.serverKey,
      "--tls-ca",
      pki.caCert,
      "--tls-client-cert",
      "optional",
    ]);
    const target = `sip:112@${ip}:${port}`;
    const tls = ["-t", "tls", "--tls-ca", pki.caCert];
    const withCert = await callFromOutside(target, [
      ...tls,
      "--tls-cert",
      pki.clientCert,
      "--tls-key",
      pki.clientKey,
    ]);
    expect(withCert.json?.outcome, withCert.json?.reason).toBe("answered");
    expect(withCert.code).toBe(0);
    expect(await r.waitForJournal((j) => j.type === "test_call")).toMatchObject({ access: "mtls" });

    const without = await callFromOutside(target, tls);
    expect(without.json?.finalStatus, without.json?.reason).toBe(403);
    expect(without.code).toBe(1);
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      reason: "forbidden_network",
    });
  });
});

describe("the token in-band, when an SBC strips the header", () => {
  it("Kamailio removes X-Probe112-Token; the responder still names agent and path from the RFC 4733 digits", async () => {
    const { r, target } = await udpResponder(`    allow: ["${ip}/32"]\n${agentsBlock}`);
    const port = await freePort("udp", ip);
    proxy = await startKamailio({
      listen: [{ proto: "udp", ip, port }],
      upstream: { proto: "udp", host: ip, port: Number(target.split(":").pop()) },
      removeHeaders: ["X-Probe112-Token"],
    });
    const token = issueProbeToken(AGENT.number, AGENT.path, SECRET);
    const run = await callFromOutside(target, [
      "--proxy",
      `sip:${ip}:${port}`,
      "--token",
      token,
      "--media",
      "loopback",
    ]);
    const result = run.json!;
    expect(result.success, `${result.outcome}: ${result.reason}; media: ${result.media?.reason}`).toBe(true);
    expect(result.media?.dtmf.sent).toBe(`*${token}#`);
    const rec = await r.waitForJournal((j) => j.type === "test_call");
    expect(rec).toMatchObject({
      access: "network",
      tokenState: { header: "absent", dtmf: "valid" },
      agent: AGENT.id,
      path: "kpn-sbc",
      token,
    });
    const m = await r.scrape();
    expect(metricValue(m, "probe112_responder_token_checks_total", { state: "valid", via: "dtmf" })).toBe(1);
    expect(
      metricValue(m, "probe112_responder_token_checks_total", { state: "valid", via: "header" }),
    ).toBeUndefined();
    expect(
      metricValue(m, "probe112_responder_test_calls_total", {
        agent: AGENT.id,
        path: "kpn-sbc",
        outcome: "completed",
      }),
    ).toBe(1);
  });
});
