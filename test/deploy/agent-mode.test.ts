import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentRun, agentConfig, eventually, startAgent } from "../support/agent.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { DEPLOY, readYaml } from "./deploy-files.js";
import { httpsGet, type PrometheusProcess, runPrometheus } from "./run-prometheus.js";
import { tool } from "./tool.js";

// deploy/prometheus/agent-mode.yml as a site behind NAT runs it: Prometheus in agent mode scrapes
// a real probe112 agent and pushes to a central Prometheus that accepts remote_write only over
// TLS with basic auth, configured by deploy/prometheus/web-config.example.yml. Everything on
// loopback; only addresses, ports, file paths and intervals differ from the shipped files.

const AGENT_MODE = join(DEPLOY, "prometheus/agent-mode.yml");
const WEB_CONFIG = join(DEPLOY, "prometheus/web-config.example.yml");
const ip = uniqueLoopback();
const SITE = { agent: "deploy-nat-agent", operator: "test", region: "behind-nat" };
const PASSWORD = "deploy-test-remote-write";
// bcrypt (cost 10) of PASSWORD, as `htpasswd -nBC 10` makes it; a hash for test use only.
const PASSWORD_HASH = "$2b$10$3sfaT4aX67sHdok/gLTxau/Lat6dxTVSgT9je8bhS6.3RDYPh5Hz.";

interface AgentModeConfig {
  global: Record<string, unknown>;
  scrape_configs: Array<{
    job_name: string;
    static_configs: Array<{ targets: string[]; labels: Record<string, string> }>;
  }>;
  remote_write: Array<{
    url: string;
    basic_auth: { username: string; password_file: string };
    tls_config: { ca_file: string; server_name?: string };
  }>;
}

let pki: TestPki;
let agent: AgentRun;
let central: PrometheusProcess;
let site: PrometheusProcess;

beforeAll(async () => {
  pki = await makeTestPki(undefined, { extraSans: [`IP:${ip}`] });
  agent = await startAgent({
    config: agentConfig({
      ip,
      id: SITE.agent,
      httpPort: await freePort("tcp", ip),
      paths: { "path-a": {} },
      // A SIP check is mandatory; this one calls a loopback port nobody listens on, once an hour.
      destinations: { dead: { uri: `sip:112@${ip}:${await freePort("udp", ip)}`, role: "other" } },
      check: { interval: 3600, timeout: 2, hold: 0.2, media: "none" },
    }),
  });
  const web = readYaml<{
    tls_server_config: Record<string, string>;
    basic_auth_users: Record<string, string>;
  }>(WEB_CONFIG);
  const user = Object.keys(web.basic_auth_users)[0]!;
  central = await runPrometheus({
    ip,
    name: "central prometheus",
    config: { global: { scrape_interval: "15s" } },
    files: {
      "web.yml": JSON.stringify({
        ...web,
        tls_server_config: { ...web.tls_server_config, cert_file: pki.serverCert, key_file: pki.serverKey },
        basic_auth_users: { [user]: PASSWORD_HASH },
      }),
    },
    args: ["--web.enable-remote-write-receiver", "--web.config.file=web.yml"],
    web: { ca: pki.caCert, username: user, password: PASSWORD },
  });
  const shipped = readYaml<AgentModeConfig>(AGENT_MODE);
  const job = shipped.scrape_configs.find((j) => j.job_name === "probe112-agent")!;
  const rw = shipped.remote_write[0]!;
  expect(rw.basic_auth.username, "the shipped remote_write user is the web config's user").toBe(user);
  const passwordFile = join(central.dir, "remote-write-password");
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  site = await runPrometheus({
    ip,
    name: "agent-mode prometheus",
    config: {
      ...shipped,
      global: { ...shipped.global, scrape_interval: "1s", scrape_timeout: "1s" },
      scrape_configs: [
        {
          ...job,
          static_configs: [
            { targets: [new URL(agent.url).host], labels: { ...job.static_configs[0]!.labels, ...SITE } },
          ],
        },
      ],
      remote_write: [
        {
          ...rw,
          url: `${central.url}/api/v1/write`,
          basic_auth: { ...rw.basic_auth, password_file: passwordFile },
          tls_config: { ...rw.tls_config, ca_file: pki.caCert, server_name: ip },
        },
      ],
    },
    args: ["--enable-feature=agent"],
  });
}, 60_000);

afterAll(async () => {
  await site?.stop();
  await central?.stop();
  await agent?.stop();
});

describe("Prometheus in agent mode behind NAT", () => {
  it("promtool accepts the shipped agent-mode configuration as an agent's", async () => {
    const r = await tool("promtool", ["check", "config", "--agent", AGENT_MODE]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });

  it("the agent's series arrive at the central Prometheus with the target's labels", async () => {
    const sample = await eventually(
      async () => {
        const r = await central.api("/api/v1/query", {
          query: `probe112_agent_info{job="probe112-agent", agent="${SITE.agent}"}`,
        });
        const result = (r.data as { result: Array<{ metric: Record<string, string> }> }).result;
        return result[0];
      },
      30_000,
      () => `probe112_agent_info at the central Prometheus; agent-mode log:\n${site.process.output()}`,
      500,
    );
    expect(sample.metric).toMatchObject({ job: "probe112-agent", agent: SITE.agent, operator: "test" });
    const up = await central.api("/api/v1/query", {
      query: `up{job="probe112-agent", agent="${SITE.agent}"}`,
    });
    expect((up.data as { result: Array<{ value: [number, string] }> }).result[0]?.value[1]).toBe("1");
    const info = await central.api("/api/v1/query", { query: "count(probe112_check_info)" });
    expect((info.data as { result: Array<{ value: [number, string] }> }).result[0]?.value[1]).toBe("1");
  });

  it("the central Prometheus refuses a wrong password and plain HTTP", async () => {
    const u = `${central.url}/api/v1/query?query=up`;
    const wrong = await httpsGet(u, { ca: pki.caCert, username: SITE.agent, password: "not-the-password" });
    expect(wrong.status).toBe(401);
    const none = await httpsGet(u, { ca: pki.caCert });
    expect(none.status).toBe(401);
    const plain = await fetch(u.replace("https:", "http:")).then(
      (r) => r.status,
      () => "refused",
    );
    expect(plain === "refused" || plain === 400).toBe(true);
  });
});
