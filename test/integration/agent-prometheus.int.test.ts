import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentRun, agentConfig, agentLogTail, eventually, startAgent } from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { spawnManaged } from "../support/process.js";
import { type PrometheusRun, type PromSample, startPrometheus } from "../support/prometheus.js";
import { type ResponderRun, startResponder } from "../support/responder.js";

// The agent as Prometheus sees it: a real prometheus scrapes a real agent whose calls a real
// answering point takes, so label sets, types and values are checked by the consumer itself.

const NAME = "probe112 test answering point";
const ip = uniqueLoopback();
const CHECKS = ["path-a.test-112", "path-a.police-0900", "path-b.test-112", "path-b.police-0900"];
let responder: ResponderRun;
let agent: AgentRun;
let prometheus: PrometheusRun;

beforeAll(async () => {
  const sipPort = await freePort("udp", ip);
  responder = await startResponder({
    args: [
      ...["--listen", `udp:${ip}:${sipPort}`, "--name", NAME, "--allow", `${ip}/32`],
      ...["--destination", "112", "--destination", "09008844", "--per-caller-per-minute", "600"],
    ],
  });
  agent = await startAgent({
    config: agentConfig({
      ip,
      httpPort: await freePort("tcp", ip),
      paths: { "path-a": {}, "path-b": { access: "fixed" } },
      destinations: {
        "test-112": { uri: `sip:112@${ip}:${sipPort};user=phone`, expectIdentity: NAME },
        "police-0900": { uri: `sip:09008844@${ip}:${sipPort};user=phone`, role: "police" },
      },
      check: { interval: 5, timeout: 10, hold: 0.5, media: "loopback", confirmAfter: 1 },
    }),
  });
  prometheus = await startPrometheus({ ip, targets: [new URL(agent.url).host], scrapeIntervalSeconds: 1 });
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  const exit = await agent?.stop();
  await responder?.stop();
  expect(exit?.code, "the agent exits 0 on SIGTERM").toBe(0);
});

const byCheck = (samples: PromSample[]) =>
  Object.fromEntries(samples.map((s) => [s.metric.check, s.value] as const));

describe("Prometheus scraping a running agent", () => {
  it("finds one probe112_probe_success series per check, each 1, with the path labels", async () => {
    const samples = await eventually(
      async () => {
        const s = await prometheus.query("probe112_probe_success");
        return s.length === CHECKS.length && s.every((x) => x.value === 1) ? s : undefined;
      },
      40_000,
      () => `probe112_probe_success = 1 for ${CHECKS.join(", ")}; agent log:\n${agentLogTail(agent)}`,
      500,
    );
    expect(Object.keys(byCheck(samples)).sort()).toEqual([...CHECKS].sort());
    const b = samples.find((s) => s.metric.check === "path-b.police-0900")!.metric;
    expect(b).toMatchObject({
      job: "probe112-agent",
      provider: "test-provider",
      path: "path-b",
      access: "fixed",
      transport: "udp",
      destination: "police-0900",
      role: "police",
    });
    const [target] = await prometheus.targets();
    expect(target).toMatchObject({ health: "up", lastError: "" });
  });

  it("counts answered calls, and every check is up", async () => {
    const answered = await prometheus.query('sum(probe112_call_attempts_total{outcome="answered"})');
    expect(answered[0]?.value).toBeGreaterThanOrEqual(CHECKS.length);
    expect(byCheck(await prometheus.query("probe112_check_up"))).toEqual(
      Object.fromEntries(CHECKS.map((c) => [c, 1])),
    );
    const verified = await prometheus.query(
      'sum by (kind, result) (probe112_verifications_total{check="path-a.test-112"})',
    );
    const passes = Object.fromEntries(verified.map((s) => [`${s.metric.kind}:${s.metric.result}`, s.value]));
    expect(passes["media:pass"], "media looped back").toBeGreaterThan(0);
    expect(passes["identity:pass"], "the far end named itself").toBeGreaterThan(0);
    expect(passes["media:fail"] ?? 0).toBe(0);
    expect(passes["identity:fail"] ?? 0).toBe(0);
    const info = await prometheus.query("probe112_check_info");
    expect(info.map((s) => s.metric.interval_seconds)).toEqual(CHECKS.map(() => "5"));
    expect(await prometheus.query("probe112_config_last_reload_successful")).toMatchObject([{ value: 1 }]);
    const lag = await prometheus.query("probe112_scheduler_lag_seconds_count");
    expect(lag[0]?.value).toBeGreaterThan(0);
  });

  it("promtool check metrics finds nothing to complain about in /metrics", async () => {
    const text = await agent.scrape();
    const promtool = spawnManaged("promtool", ["check", "metrics"], { name: "promtool", input: text });
    const r = await promtool.exited;
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.code).toBe(0);
  });
});
