import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { type AgentRun, startAgent } from "./agent.js";
import { startWebhookReceiver, type WebhookReceiver } from "./alert-webhook.js";
import { type AlertmanagerRun, startAlertmanager } from "./alertmanager.js";
import { createNetns, type Netns, ruleCounters, type VethLink, vethToHost } from "./netns.js";
import { uniqueLoopback } from "./ports.js";
import { launchPrometheus, type PrometheusRun } from "./prometheus.js";
import { type ResponderRun, startResponder } from "./responder.js";

// The shipped monitoring chain end to end: Prometheus on the repository's prometheus.yml and rule
// files, Alertmanager on its alertmanager.yml, a webhook receiver where the paging systems would
// be, and an agent whose provider paths can be cut one by one. The agent and the answering point
// run in a network namespace of their own: every path calls from a loopback address of its own
// there, so iptables can blackhole (or thin out) one path without touching the others, and a veth
// link lets Prometheus on the host scrape them.

/** Prometheus/Alertmanager durations in seconds: "15s", "1m30s", "250ms", "4h". */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  const parts = [...String(text).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== String(text))
    throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

/** Seconds as a duration both Prometheus and Alertmanager accept, to the millisecond. */
export function formatDuration(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A rule file with every `for:` and `keep_firing_for:` divided by `timeScale`; the rest of the text stays as shipped. */
export function scaleRuleFile(text: string, timeScale: number): string {
  return text.replace(
    /^([ \t]+(?:keep_firing_)?for:[ \t]*)(\S+)[ \t]*$/gm,
    (_, head: string, d: string) => `${head}${formatDuration(parseDuration(d) / timeScale)}`,
  );
}

/** The shipped `for:` of an alert, in seconds (0 without one). */
export function shippedFor(root: string, alertname: string): number {
  for (const file of ruleFiles(root)) {
    const doc = parse(readFileSync(file, "utf8")) as {
      groups: Array<{ rules: Array<Record<string, string>> }>;
    };
    for (const g of doc.groups) {
      const rule = g.rules.find((r) => r.alert === alertname);
      if (rule) return rule.for ? parseDuration(rule.for) : 0;
    }
  }
  throw new Error(`no alert ${alertname} in deploy/prometheus/rules`);
}

function ruleFiles(root: string): string[] {
  const dir = join(root, "deploy/prometheus/rules");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yml"))
    .sort()
    .map((f) => join(dir, f));
}

type Route = Record<string, unknown> & { routes?: Route[] };

/**
 * The shipped alertmanager.yml with every receiver pointed at `webhookUrl` (the path, one per
 * receiver, kept), its bearer token read from `tokenFile`, and group_wait, group_interval and
 * repeat_interval divided by `timeScale`.
 */
export function alertmanagerConfig(
  root: string,
  o: { webhookUrl: string; tokenFile: string; timeScale: number },
): Record<string, unknown> {
  const config = parse(readFileSync(join(root, "deploy/alertmanager/alertmanager.yml"), "utf8")) as {
    route: Route;
    receivers: Array<{ webhook_configs?: Array<Record<string, unknown>> }>;
  };
  for (const r of config.receivers) {
    for (const w of r.webhook_configs ?? []) {
      w.url = `${o.webhookUrl}${new URL(String(w.url)).pathname}`;
      const http = (w.http_config ?? {}) as { authorization?: Record<string, unknown> };
      if (http.authorization) http.authorization.credentials_file = o.tokenFile;
    }
  }
  const scale = (route: Route) => {
    for (const key of ["group_wait", "group_interval", "repeat_interval"]) {
      if (typeof route[key] === "string")
        route[key] = formatDuration(parseDuration(route[key] as string) / o.timeScale);
    }
    for (const child of route.routes ?? []) scale(child);
  };
  if (o.timeScale !== 1) scale(config.route);
  return config;
}

/** Where the shipped alertmanager.yml sends an alert: each receiver with its group_wait and group_interval, seconds. */
export function shippedRouting(
  root: string,
  labels: Record<string, string>,
): Array<{ receiver: string; groupWait: number; groupInterval: number }> {
  const config = parse(readFileSync(join(root, "deploy/alertmanager/alertmanager.yml"), "utf8")) as {
    route: Route;
  };
  const matches = (route: Route) =>
    ((route.matchers as string[] | undefined) ?? []).every((m) => {
      const hit = /^(\w+)\s*(=~|!=|=)\s*"(.*)"$/.exec(m);
      if (!hit) throw new Error(`matcher not understood: ${m}`);
      const [, name, op, value] = hit;
      const v = labels[name!] ?? "";
      if (op === "=") return v === value;
      if (op === "!=") return v !== value;
      return new RegExp(`^(?:${value})$`).test(v);
    });
  const out: Array<{ receiver: string; groupWait: number; groupInterval: number }> = [];
  // Alertmanager's tree walk: the deepest matching route takes it; `continue` goes on to siblings.
  const walk = (route: Route, inherited: Record<string, unknown>): boolean => {
    if (!matches(route)) return false;
    const here = { ...inherited, ...pick(route, ["receiver", "group_wait", "group_interval"]) };
    let matchedChild = false;
    for (const child of route.routes ?? []) {
      if (walk(child, here)) {
        matchedChild = true;
        if (child.continue !== true) break;
      }
    }
    if (!matchedChild)
      out.push({
        receiver: String(here.receiver),
        groupWait: parseDuration(String(here.group_wait ?? "30s")),
        groupInterval: parseDuration(String(here.group_interval ?? "5m")),
      });
    return true;
  };
  walk(config.route, {});
  return out;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

/** The shipped global scrape and evaluation intervals, in seconds. */
export function shippedPrometheusIntervals(root: string): { scrape: number; evaluation: number } {
  const config = parse(readFileSync(join(root, "deploy/prometheus/prometheus.yml"), "utf8")) as {
    global: Record<string, string>;
  };
  return {
    scrape: parseDuration(config.global.scrape_interval ?? "1m"),
    evaluation: parseDuration(config.global.evaluation_interval ?? "1m"),
  };
}

/** The check settings of the shipped example agent configuration (its first check entry), in seconds. */
export function shippedCheck(root: string): {
  interval: number;
  timeout: number;
  confirmAfter: number;
  hold: number;
} {
  const config = parse(readFileSync(join(root, "config/agent.example.yaml"), "utf8")) as {
    checks: Array<Record<string, number>>;
  };
  const c = config.checks[0]!;
  return { interval: c.interval!, timeout: c.timeout!, confirmAfter: c.confirmAfter!, hold: c.hold! };
}

/**
 * The shipped prometheus.yml with its global intervals divided by `timeScale`, its Alertmanager
 * replaced by ours and its file_sd target files written into `dir/targets`; the rule files are
 * copied into `dir/rules` with their `for:` scaled the same way.
 */
export function writePrometheusConfig(
  root: string,
  dir: string,
  o: {
    timeScale: number;
    alertmanager: string;
    agents: Array<{ target: string; labels: Record<string, string> }>;
    responders: Array<{ target: string; labels: Record<string, string> }>;
  },
): void {
  const config = parse(readFileSync(join(root, "deploy/prometheus/prometheus.yml"), "utf8")) as {
    global: Record<string, string>;
    rule_files: string[];
    alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
  };
  for (const key of ["scrape_interval", "scrape_timeout", "evaluation_interval"]) {
    if (config.global[key])
      config.global[key] = formatDuration(parseDuration(config.global[key]) / o.timeScale);
  }
  config.alerting.alertmanagers = [{ static_configs: [{ targets: [o.alertmanager] }] }];
  mkdirSync(join(dir, "rules"), { recursive: true });
  for (const file of config.rule_files) {
    const text = readFileSync(join(root, "deploy/prometheus", file), "utf8");
    writeFileSync(join(dir, file), o.timeScale === 1 ? text : scaleRuleFile(text, o.timeScale));
  }
  mkdirSync(join(dir, "targets"), { recursive: true });
  const targets = (list: typeof o.agents) =>
    stringify(list.map((t) => ({ targets: [t.target], labels: t.labels })));
  writeFileSync(join(dir, "targets/agents.yml"), targets(o.agents));
  writeFileSync(join(dir, "targets/responders.yml"), targets(o.responders));
  writeFileSync(join(dir, "prometheus.yml"), stringify(config));
}

/** One provider path of the stack's agent. */
export interface StackPath {
  readonly id: string;
  readonly provider: "kpn" | "vodafoneziggo";
  readonly access: "fixed" | "voip" | "volte" | "cs" | "vowifi";
}

/** Options for {@link startAlertingStack}. */
export interface AlertingStackOptions {
  /** The repository: the shipped configuration is read from there. */
  readonly root: string;
  /**
   * Prometheus's intervals and `for:` durations and Alertmanager's group timings are the shipped
   * ones divided by this; 1 runs them as shipped.
   */
  readonly timeScale: number;
  readonly paths: readonly StackPath[];
  /** The agent's check settings (seconds) for every path to the 112 test destination. */
  readonly check: {
    readonly interval: number;
    readonly timeout: number;
    readonly confirmAfter: number;
    readonly hold: number;
  };
}

/** The whole chain, running. */
export interface AlertingStack {
  readonly ns: Netns;
  readonly link: VethLink;
  readonly agentId: string;
  readonly agent: AgentRun;
  readonly responder: ResponderRun;
  readonly prometheus: PrometheusRun;
  readonly alertmanager: AlertmanagerRun;
  readonly webhook: WebhookReceiver;
  /** The check name of a path's call to the 112 test destination. */
  check(pathId: string): string;
  /** Drops every packet from and to these paths' addresses; returns when the rules are in place. */
  blackhole(pathIds: readonly string[]): Promise<void>;
  /** Drops packets of every path at random with `probability`, each direction on its own. */
  loss(probability: number): Promise<void>;
  /** Removes the blackhole and loss rules of these paths (default: every path). */
  restore(pathIds?: readonly string[]): Promise<void>;
  /** Packets to or from the paths that reached their rules, and of those the ones dropped. */
  packetCounters(): Promise<{ matched: number; dropped: number }>;
  /** Stops everything and removes the namespace and temp directories. */
  stop(): Promise<void>;
}

/** The destination every path calls, as the responder names itself. */
export const STACK_PSAP_NAME = "probe112 test answering point";

/** Starts responder and agent in a fresh namespace, and webhook, Alertmanager and Prometheus on the host. */
export async function startAlertingStack(o: AlertingStackOptions): Promise<AlertingStack> {
  const dir = mkdtempSync(join(tmpdir(), "p112-alerting-"));
  const ns = await createNetns();
  const started: Array<() => Promise<unknown>> = [async () => ns.destroy()];
  const stop = async () => {
    for (const s of started.reverse()) await s().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const link = await vethToHost(ns);
    const hostIp = uniqueLoopback();
    const agentId = "agent-nl-1";
    const token = "probe112-alerting-test-webhook-token";
    const tokenFile = join(dir, "webhook-token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const secretFile = join(dir, "probe-token-secret");
    writeFileSync(secretFile, "probe112-alerting-test-secret\n", { mode: 0o600 });
    const pathIp = (i: number) => `127.0.1.${i + 1}`;
    const pathNumber = (i: number) => String(i + 1).padStart(2, "0");
    const callerId = (i: number) => `+312000000${pathNumber(i)}`;

    const responderConfig = join(dir, "responder.yaml");
    writeFileSync(
      responderConfig,
      stringify({
        responder: {
          name: STACK_PSAP_NAME,
          listen: ["udp:127.0.0.1:5060"],
          metrics: `${link.nsIp}:9112`,
          destinations: ["112"],
          // Calls cut off mid-way must not hold the answering point's limits for 30 s.
          answer: { ringMs: 0, holdSeconds: Math.max(5, o.check.timeout * 2), media: "loopback" },
          limits: { concurrentTests: 200, concurrentPerCaller: 200, perCallerPerMinute: 6000 },
          access: {
            agents: [
              {
                id: agentId,
                number: 1001,
                secret: { file: secretFile },
                paths: Object.fromEntries(
                  o.paths.map((p, i) => [pathNumber(i), { name: p.id, callerId: callerId(i) }]),
                ),
              },
            ],
          },
        },
      }),
    );
    const responder = await startResponder({ args: ["--config", responderConfig], netns: ns.name });
    started.push(() => responder.stop());

    const pathIds = o.paths.map((p) => p.id);
    const agent = await startAgent({
      netns: ns.name,
      config: {
        agent: {
          id: agentId,
          operator: "rdi",
          region: "test",
          number: 1001,
          tokenSecret: { file: secretFile },
          http: { listen: `${link.nsIp}:9113` },
          maxCallsPerMinute: 6000,
        },
        providers: [
          { id: "kpn", name: "KPN" },
          { id: "vodafoneziggo", name: "VodafoneZiggo" },
        ],
        paths: o.paths.map((p, i) => ({
          id: p.id,
          number: i + 1,
          provider: p.provider,
          access: p.access,
          transport: "udp",
          localAddress: pathIp(i),
          callerId: callerId(i),
        })),
        destinations: [
          {
            id: "test-112",
            uri: "sip:112@127.0.0.1:5060;user=phone",
            role: "test112",
            expectIdentity: STACK_PSAP_NAME,
          },
        ],
        checks: [
          {
            paths: pathIds,
            destinations: ["test-112"],
            interval: o.check.interval,
            timeout: o.check.timeout,
            hold: o.check.hold,
            confirmAfter: o.check.confirmAfter,
            media: "loopback",
          },
        ],
      },
    });
    started.push(() => agent.stop());

    // One chain per path, jumped to for packets from and to its address: cutting a path or
    // thinning it out is then a rule in its chain, and the jumps count what reached it.
    for (const [i] of o.paths.entries()) {
      const chain = `P112-PATH-${i + 1}`;
      await ns.iptables(["-N", chain]);
      await ns.iptables(["-A", "INPUT", "-s", pathIp(i), "-j", chain]);
      await ns.iptables(["-A", "INPUT", "-d", pathIp(i), "-j", chain]);
    }
    const chainOf = (id: string) => {
      const i = pathIds.indexOf(id);
      if (i < 0) throw new Error(`no path ${id}`);
      return `P112-PATH-${i + 1}`;
    };

    const webhook = await startWebhookReceiver(hostIp, token);
    started.push(() => webhook.close());
    const alertmanager = await startAlertmanager({
      ip: hostIp,
      config: alertmanagerConfig(o.root, { webhookUrl: webhook.url, tokenFile, timeScale: o.timeScale }),
    });
    started.push(() => alertmanager.stop());

    const promDir = join(dir, "prometheus");
    mkdirSync(promDir);
    writePrometheusConfig(o.root, promDir, {
      timeScale: o.timeScale,
      alertmanager: alertmanager.address,
      agents: [{ target: `${link.nsIp}:9113`, labels: { agent: agentId, operator: "rdi", region: "test" } }],
      responders: [{ target: `${link.nsIp}:9112`, labels: { responder: "test-psap-1" } }],
    });
    const prometheus = await launchPrometheus({ ip: hostIp, dir: promDir });
    started.push(() => prometheus.stop());

    return {
      ns,
      link,
      agentId,
      agent,
      responder,
      prometheus,
      alertmanager,
      webhook,
      check: (pathId) => `${pathId}.test-112`,
      async blackhole(ids) {
        for (const id of ids) await ns.iptables(["-A", chainOf(id), "-j", "DROP"]);
      },
      async loss(probability) {
        for (const id of pathIds)
          await ns.iptables([
            "-A",
            chainOf(id),
            ...["-m", "statistic", "--mode", "random", "--probability", String(probability)],
            ...["-j", "DROP"],
          ]);
      },
      async restore(ids = pathIds) {
        for (const id of ids) await ns.iptables(["-F", chainOf(id)]);
      },
      async packetCounters() {
        const jumps = (await ruleCounters(ns)).filter((c) => c.target.startsWith("P112-PATH-"));
        let dropped = 0;
        for (const id of pathIds)
          for (const c of await ruleCounters(ns, chainOf(id))) if (c.target === "DROP") dropped += c.packets;
        return { matched: jumps.reduce((n, c) => n + c.packets, 0), dropped };
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
