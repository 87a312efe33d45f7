import { createSocket } from "node:dgram";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NL_2023 } from "../cellbroadcast/vectors.js";
import { type AgentRun, agentConfig, agentLogTail, eventually, startAgent } from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type PtyPair, startPtyPair } from "../support/pty-pair.js";
import { metricSum, type ResponderRun, startResponder } from "../support/responder.js";
import { openSimModem, type SimModem } from "../support/sim-modem.js";
import {
  DASHBOARDS_DIR,
  DEPLOY,
  dashboardExpressions,
  type Expression,
  readYaml,
  recordedNames,
  ruleExpressions,
} from "./deploy-files.js";
import {
  allPanels,
  allStrings,
  LAYOUT_PANELS,
  loadDashboards,
  referencedVariables,
  substituteVariables,
} from "./grafana.js";
import { exportedLabels, exportedNames, metricNames, selectors } from "./promql.js";
import { type PrometheusProcess, runPrometheus } from "./run-prometheus.js";

// The dashboards as Grafana would load them, and every PromQL expression of the dashboards and
// of the rule files against what is really there: a real Prometheus (with the real scrape and
// rule configuration) scraping a real agent, which calls a real answering point and listens to a
// simulated modem on a pseudo-terminal. Grafana itself is not packaged for Debian, so the test
// machines cannot load the JSON into it.

const dashboards = loadDashboards(DASHBOARDS_DIR);
const datasources = readYaml<{ datasources: Array<{ uid: string; type: string; isDefault?: boolean }> }>(
  join(DEPLOY, "grafana/provisioning/datasources/prometheus.yml"),
).datasources;
const PROM_UID = datasources.find((d) => d.type === "prometheus")?.uid;

/** Series Prometheus makes itself: per target, and per alert. */
const SYNTHETIC = new Set([
  "up",
  "scrape_duration_seconds",
  "scrape_samples_scraped",
  "scrape_samples_post_metric_relabeling",
  "scrape_series_added",
  "ALERTS",
  "ALERTS_FOR_STATE",
]);

describe("dashboard files", () => {
  it("there are the four dashboards, each with a uid and title of its own", () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      "probe112-health",
      "probe112-nl-alert",
      "probe112-overview",
      "probe112-path",
    ]);
    for (const d of dashboards) {
      expect(d.title, d.file).toMatch(/^probe112 /);
      expect(d.schemaVersion, d.file).toBeGreaterThanOrEqual(36);
      expect(d.schemaVersion, d.file).toBeLessThanOrEqual(41);
    }
    expect(new Set(dashboards.map((d) => d.title)).size).toBe(dashboards.length);
  });

  it("panel ids are unique per dashboard and panels lie on the 24-column grid without overlapping", () => {
    for (const d of dashboards) {
      const panels = allPanels(d);
      const ids = panels.map((p) => p.id);
      expect(
        ids.every((id) => Number.isInteger(id) && id! > 0),
        d.file,
      ).toBe(true);
      expect(new Set(ids).size, `${d.file}: duplicate panel ids`).toBe(ids.length);
      const boxes = panels.map((p) => ({ id: p.id, ...p.gridPos! }));
      for (const b of boxes) {
        expect(b.w, `${d.file} panel ${b.id} gridPos`).toBeGreaterThan(0);
        expect(b.x + b.w, `${d.file} panel ${b.id} is wider than the grid`).toBeLessThanOrEqual(24);
      }
      for (const a of boxes)
        for (const b of boxes) {
          if (a.id! >= b.id!) continue;
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${d.file}: panels ${a.id} and ${b.id} overlap`).toBe(false);
        }
    }
  });

  it("every panel that shows data has targets, each with an expression and a refId of its own", () => {
    for (const d of dashboards) {
      for (const p of allPanels(d)) {
        if (LAYOUT_PANELS.has(p.type ?? "")) continue;
        const where = `${d.file} panel ${p.id} "${p.title}"`;
        expect(p.title, where).toBeTruthy();
        expect(p.targets?.length, `${where} has no targets`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.expr?.trim(), `${where} target ${t.refId}`).toBeTruthy();
        const refs = (p.targets ?? []).map((t) => t.refId);
        expect(new Set(refs).size, `${where}: duplicate refIds`).toBe(refs.length);
      }
    }
  });

  it("every data source reference is the provisioned Prometheus, by uid", () => {
    expect(PROM_UID).toBe("prometheus");
    expect(datasources.filter((d) => d.isDefault)).toHaveLength(1);
    for (const d of dashboards) {
      const refs: Array<{ where: string; ds: { type?: string; uid?: string } | null | undefined }> = [];
      for (const p of allPanels(d)) {
        if (p.type === "row") continue;
        refs.push({ where: `panel ${p.id}`, ds: p.datasource });
        for (const t of p.targets ?? [])
          refs.push({ where: `panel ${p.id} target ${t.refId}`, ds: t.datasource });
      }
      for (const v of d.templating?.list ?? [])
        if (v.type === "query") refs.push({ where: `variable ${v.name}`, ds: v.datasource });
      for (const r of refs)
        expect(r.ds, `${d.file} ${r.where}`).toEqual({ type: "prometheus", uid: PROM_UID });
    }
  });

  it("every variable a dashboard refers to is defined in it", () => {
    for (const d of dashboards) {
      const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
      const { templating: _, ...rest } = d;
      const used = new Set(allStrings(rest).flatMap(referencedVariables));
      // Variables refer to each other in their queries too.
      for (const v of d.templating?.list ?? [])
        for (const s of allStrings(v)) for (const n of referencedVariables(s)) used.add(n);
      for (const name of used)
        expect(defined.has(name), `${d.file} uses $${name}, which it does not define`).toBe(true);
    }
  });

  it("the path drill-down can be narrowed to a provider, path and destination", () => {
    const path = dashboards.find((d) => d.uid === "probe112-path")!;
    const names = (path.templating?.list ?? []).map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(["provider", "agent", "path", "destination"]));
  });

  it("after substitution no expression keeps a Grafana variable", () => {
    for (const e of dashboards.flatMap(dashboardExpressions)) expect(e.expr, e.where).not.toMatch(/\$|\[\[/);
  });
});

describe("the PromQL name extractor", () => {
  it("finds metrics and their matchers, not functions, keywords, labels or strings", () => {
    const e = `sum by (agent, path) (increase(probe112_x_total{outcome="answered", role!="other"}[15m] offset 5m))
      - on (agent, path) group_left (provider) max without (le) (agent_path:probe112_path:info)
      or label_replace(vector(0), "dst", "probe112_not_a_metric", "", "") unless {__name__="probe112_y", job="j"}
      and histogram_quantile(0.9, rate(probe112_z_bucket[$__rate_interval])) > bool 1`;
    expect(metricNames(substituteVariables(e, []))).toEqual([
      "agent_path:probe112_path:info",
      "probe112_x_total",
      "probe112_y",
      "probe112_z_bucket",
    ]);
    expect(selectors(e)[0]).toEqual({ name: "probe112_x_total", labels: ["outcome", "role"] });
  });
});

const ip = uniqueLoopback();
const NAME = "probe112 deploy test answering point";
const AGENT_LABELS = { agent: "deploy-agent", operator: "test", region: "loopback" };
let responder: ResponderRun;
let agent: AgentRun;
let pty: PtyPair;
let sim: SimModem;
let prometheus: PrometheusProcess;
let exported: Set<string>;
let labels: Map<string, Set<string>>;

beforeAll(async () => {
  const sipPort = await freePort("udp", ip);
  responder = await startResponder({
    args: [
      ...["--listen", `udp:${ip}:${sipPort}`, "--metrics", `${ip}:${await freePort("tcp", ip)}`],
      ...["--name", NAME, "--allow", `${ip}/32`, "--destination", "112", "--per-caller-per-minute", "600"],
    ],
  });
  pty = await startPtyPair("deploy");
  sim = openSimModem(pty.modem);
  agent = await startAgent({
    env: { ...process.env, DEPLOY_TEST_SWEEP: "deploy-test-sweep-token" },
    config: {
      ...agentConfig({
        ip,
        id: AGENT_LABELS.agent,
        httpPort: await freePort("tcp", ip),
        agent: { http: { sweepToken: { env: "DEPLOY_TEST_SWEEP" } } },
        // path-b binds an address of TEST-NET-1 that is not ours: a probe_error, no traffic.
        paths: { "path-a": {}, "path-b": { localAddress: "192.0.2.1" } },
        destinations: { "test-112": { uri: `sip:112@${ip}:${sipPort};user=phone`, expectIdentity: NAME } },
        check: { interval: 3, timeout: 5, hold: 0.3, media: "loopback", confirmAfter: 1 },
      }),
      modems: [
        {
          id: "kpn-lab",
          device: pty.host,
          operator: "kpn",
          region: "lab",
          expectPlmn: "20408",
          healthInterval: 5,
        },
      ],
    },
  });
  const real = readYaml<{
    global: Record<string, unknown>;
    rule_files: string[];
    scrape_configs: Array<Record<string, unknown> & { job_name: string }>;
  }>(join(DEPLOY, "prometheus/prometheus.yml"));
  const targets: Record<string, { targets: string[]; labels: Record<string, string> }> = {
    "probe112-agent": { targets: [new URL(agent.url).host], labels: AGENT_LABELS },
    "probe112-responder": {
      targets: [new URL(responder.metricsUrl!).host],
      labels: { responder: "deploy-responder" },
    },
  };
  // The real scrape and rule configuration; only targets, intervals and Alertmanager differ.
  prometheus = await runPrometheus({
    ip,
    config: {
      global: { ...real.global, scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: real.rule_files.map((f) => join(DEPLOY, "prometheus", f)),
      scrape_configs: real.scrape_configs.map(({ file_sd_configs: _, ...job }) => {
        const t = targets[job.job_name];
        if (!t) throw new Error(`no test target for job ${job.job_name} of deploy/prometheus/prometheus.yml`);
        return { ...job, static_configs: [t] };
      }),
    },
  });
  await eventually(
    async () => (await agent.metricSum("probe112_cb_receiver_registered")) === 1,
    20_000,
    () => `the simulated modem healthy; agent log:\n${agentLogTail(agent)}`,
  );
  for (const pdu of NL_2023) sim.cbm(pdu);
  // Something that is not SIP, for the answering point to drop and count.
  const udp = createSocket("udp4");
  await new Promise<void>((resolve) => udp.send("not sip\r\n\r\n", sipPort, ip, () => resolve()));
  udp.close();
  const sweep = await fetch(`${agent.url}/api/v1/sweep`, {
    method: "POST",
    headers: { authorization: "Bearer deploy-test-sweep-token" },
  });
  expect(sweep.status).toBe(200);
  await eventually(
    async () =>
      (await agent.metricSum("probe112_cb_alerts_total", { kind: "nl_test" })) === 1 &&
      (await agent.metricSum("probe112_verifications_total", { result: "pass" })) > 0 &&
      (await agent.metricSum("probe112_probe_errors_total")) > 0 &&
      metricSum(await responder.scrape(), "probe112_responder_dropped_messages_total") > 0,
    20_000,
    () =>
      `a broadcast, a verified call, a probe error and a dropped message; agent log:\n${agentLogTail(agent)}`,
  );
  const texts = [await agent.scrape(), await responder.scrape()];
  exported = new Set(texts.flatMap((t) => [...exportedNames(t)]));
  labels = new Map();
  for (const t of texts)
    for (const [name, set] of exportedLabels(t))
      labels.set(name, new Set([...(labels.get(name) ?? []), ...set]));
  // Every rule evaluated at least once after both targets were scraped with these series in them.
  await eventually(
    async () => {
      const r = await prometheus.api("/api/v1/query", { query: 'count(up{job=~"probe112-.*"} == 1)' });
      const up = (r.data as { result: Array<{ value: [number, string] }> }).result[0]?.value[1];
      const s = await prometheus.api("/api/v1/query", { query: "count(probe112_cb_alerts_total)" });
      return up === "2" && (s.data as { result: unknown[] }).result.length > 0;
    },
    15_000,
    "both targets scraped",
  );
  await new Promise((r) => setTimeout(r, 3000));
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await agent?.stop();
  await responder?.stop();
  sim?.close();
  await pty?.close();
});

const allExpressions = (): Expression[] => [
  ...dashboards.flatMap(dashboardExpressions),
  ...ruleExpressions(),
];
const TARGET_LABELS = new Set(["job", "instance", "responder", ...Object.keys(AGENT_LABELS)]);

describe("every PromQL expression, against a real Prometheus and what the processes export", () => {
  it("a broken expression is refused as bad_data, so the check below can fail", async () => {
    const r = await prometheus.api("/api/v1/query", { query: "sum(rate(probe112_call_attempts_total[5m])" });
    expect(r).toMatchObject({ httpStatus: 400, status: "error", errorType: "bad_data" });
  });

  it("parses and runs without error on real data", async () => {
    const failures: string[] = [];
    for (const e of allExpressions()) {
      const r = await prometheus.api("/api/v1/query", { query: e.expr });
      if (r.status !== "success")
        failures.push(`${e.where}: ${r.httpStatus} ${r.errorType}: ${r.error}\n  ${e.expr}`);
    }
    expect(failures).toEqual([]);
  });

  it("every rule evaluates without error on real data", async () => {
    const r = await prometheus.api("/api/v1/rules");
    const groups = (r.data as { groups: Array<{ name: string; rules: Array<Record<string, string>> }> })
      .groups;
    const rules = groups.flatMap((g) =>
      g.rules.map((x) => ({ group: g.name, name: x.name, health: x.health, lastError: x.lastError })),
    );
    expect(rules.length).toBe(ruleExpressions().length);
    const bad = rules
      .filter((x) => x.health !== "ok")
      .map((x) => `${x.group} ${x.name}: ${x.health} ${x.lastError}`);
    expect(bad).toEqual([]);
  });

  it("names only metrics the agent or the answering point export, or the recording rules record", () => {
    const recorded = recordedNames();
    const missing: string[] = [];
    for (const e of allExpressions())
      for (const name of metricNames(e.expr))
        if (!exported.has(name) && !recorded.has(name) && !SYNTHETIC.has(name))
          missing.push(`${e.where}: ${name}`);
    expect(missing).toEqual([]);
    // The same check, given a name nobody exports, says so.
    expect(metricNames("probe112_no_such_metric_total").filter((n) => !exported.has(n))).toEqual([
      "probe112_no_such_metric_total",
    ]);
  });

  it("matches only on labels those metrics carry", () => {
    const wrong: string[] = [];
    const unchecked = new Set<string>();
    const recorded = recordedNames();
    for (const e of allExpressions()) {
      for (const s of selectors(e.expr)) {
        if (SYNTHETIC.has(s.name) || recorded.has(s.name)) continue;
        const have = labels.get(s.name);
        if (!have) {
          unchecked.add(s.name);
          continue;
        }
        for (const l of s.labels)
          if (!have.has(l) && !TARGET_LABELS.has(l)) wrong.push(`${e.where}: ${s.name} has no label ${l}`);
      }
    }
    expect(wrong).toEqual([]);
    // The run above makes every series the dashboards and rules read exist.
    expect([...unchecked]).toEqual([]);
  });
});
