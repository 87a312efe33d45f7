import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentLogTail, eventually } from "../support/agent.js";
import { carries, describeNotification, type WebhookNotification } from "../support/alert-webhook.js";
import { type AlertingStack, startAlertingStack } from "../support/alerting-stack.js";
import type { AmAlert } from "../support/alertmanager.js";

// The shipped alerting end to end: a real Prometheus on deploy/prometheus/prometheus.yml and the
// rule files, a real Alertmanager on deploy/alertmanager/alertmanager.yml with its receivers
// pointed at a webhook receiver here, and a real agent and answering point whose provider paths
// are cut with iptables in a network namespace.
//
// Prometheus and Alertmanager run 5 times faster than shipped: the 5 s scrape and evaluation
// intervals become 1 s (no shorter: sub-second scrapes are not reliable), and every `for:`,
// `keep_firing_for:`, group_wait, group_interval and repeat_interval in a scaled copy of the
// rules and of alertmanager.yml is divided by 5 too (for: 5s → 1s, keep_firing_for: 2m → 24s,
// group_wait 5s → 1s, group_interval 15s → 3s). The agent checks every 10 s with a 4.5 s
// timeout instead of 60 s and 30 s: a call cannot be shorter than the ~3.8 s its in-band token
// takes (RFC 4733 digits), so the timeout cannot shrink further. As shipped, one blackholed path
// would take two to three minutes to page and its resolved notification another minute; this
// way the scenario takes about two minutes. Timings are printed, never asserted beyond the
// generous bounds of the waits.

const root = resolve(import.meta.dirname, "../..");
const TIME_SCALE = 5;
const INTERVAL = 10;
const PATHS = [
  { id: "kpn-voip", provider: "kpn", access: "voip" },
  { id: "kpn-fixed", provider: "kpn", access: "fixed" },
  { id: "vz-volte", provider: "vodafoneziggo", access: "volte" },
] as const;
/** The receivers whose alerts this scenario is about; Probe112ChainDown carries no provider. */
const PAGED = ["/noc-pager", "/provider-kpn", "/national-crisis"];

let stack: AlertingStack;
const timings: Record<string, number> = {};

beforeAll(async () => {
  stack = await startAlertingStack({
    root,
    timeScale: TIME_SCALE,
    paths: PATHS,
    check: { interval: INTERVAL, timeout: 4.5, confirmAfter: 2, hold: 0.2 },
  });
}, 60_000);

afterAll(async () => {
  if (stack) {
    const log = stack.webhook.notifications.map(describeNotification).join("\n");
    console.log(`alerting: notifications received\n${log || "(none)"}`);
    console.log(
      `alerting: seconds from cut or restore to notification (time scale 1/${TIME_SCALE}): ${JSON.stringify(timings)}`,
    );
    await stack.stop();
  }
}, 60_000);

/** Where a path's scheduled calls start (a grid of the interval) and how long one may last, ms. */
function callGrid(pathId: string): { start: number; busy: number } {
  const calls = stack.agent
    .journal()
    .filter((r) => r.check === stack.check(pathId) && r.attempt === "scheduled");
  if (calls.length === 0) throw new Error(`no call of ${pathId} in the journal yet`);
  return {
    start: Date.parse(String(calls.at(-1)!.startedAt)),
    busy: Math.max(...calls.map((r) => Number(r.durationSeconds))) * 1000 + 500,
  };
}

/**
 * A moment within two intervals at which none of these paths has a scheduled call under way: the
 * earliest ("first"), or the one after which their next calls start closest together ("spread").
 */
function quietMoment(pathIds: readonly string[], pick: "spread" | "first"): number {
  const I = INTERVAL * 1000;
  const grids = pathIds.map(callGrid);
  let best: { at: number; spread: number } | undefined;
  for (let at = Date.now() + 200; at < Date.now() + 2 * I; at += 50) {
    const next: number[] = [];
    for (const g of grids) {
      const latest = g.start + Math.floor((at - g.start) / I) * I;
      if (at < latest + g.busy) break;
      next.push(latest + I);
    }
    if (next.length < grids.length) continue;
    if (pick === "first") return at;
    const spread = Math.max(...next) - Math.min(...next);
    if (!best || spread < best.spread - 100) best = { at, spread };
  }
  if (!best) throw new Error(`no moment without a call under way on ${pathIds.join(", ")}`);
  return best.at;
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

const since = (t0: number, n: WebhookNotification) => Math.round(n.receivedAt - t0) / 1000;
const received = () => stack.webhook.notifications.map(describeNotification).join("\n") || "(none)";
const alertsNamed = (alerts: AmAlert[], name: string) => alerts.filter((a) => a.labels.alertname === name);

describe("alerting: Prometheus rules and Alertmanager routes as shipped, on a real agent", () => {
  it("every path healthy: every check succeeds and nothing is notified", async () => {
    await eventually(
      async () => {
        const s = await stack.prometheus.query('probe112_probe_success{role="test112"} == 1');
        return s.length === PATHS.length;
      },
      40_000,
      () => `probe112_probe_success 1 on every path in Prometheus; agent log:\n${agentLogTail(stack.agent)}`,
      500,
    );
    // 20 s here are five minutes as shipped: long enough for any `for:` up to 5m to run out.
    await new Promise((r) => setTimeout(r, 20_000));
    const targets = await stack.prometheus.targets();
    expect(targets.map((t) => t.health)).toEqual(["up", "up"]);
    expect(await stack.prometheus.alerts(), "nothing pending or firing").toEqual([]);
    expect(stack.webhook.notifications, received()).toEqual([]);
    expect(stack.webhook.refused).toEqual([]);
  }, 70_000);

  it("one kpn path blackholed: Probe112PathDown pages the provider's NOC and the NOC pager with its labels", async () => {
    const t0 = Date.now();
    await stack.blackhole(["kpn-voip"]);
    const isPathDown = (n: WebhookNotification) =>
      carries(n, "Probe112PathDown", "firing", { provider: "kpn", path: "kpn-voip" });
    const pager = await stack.webhook.waitFor(
      (n) => n.path === "/noc-pager" && isPathDown(n),
      60_000,
      "Probe112PathDown for kpn-voip at /noc-pager",
    );
    const kpn = await stack.webhook.waitFor(
      (n) => n.path === "/provider-kpn" && isPathDown(n),
      10_000,
      "Probe112PathDown for kpn-voip at /provider-kpn",
    );
    timings.pathDownToNocPager = since(t0, pager);
    timings.pathDownToProviderKpn = since(t0, kpn);
    console.log(
      `alerting: kpn-voip blackholed, Probe112PathDown at /noc-pager after ${timings.pathDownToNocPager} s, /provider-kpn after ${timings.pathDownToProviderKpn} s`,
    );
    const alert = pager.alerts.find((a) => a.labels.alertname === "Probe112PathDown")!;
    expect(alert.labels).toMatchObject({
      agent: stack.agentId,
      operator: "rdi",
      provider: "kpn",
      path: "kpn-voip",
      access: "voip",
      transport: "udp",
      destination: "test-112",
      role: "test112",
      check: "kpn-voip.test-112",
      severity: "critical",
      scope: "path",
    });
    expect(alert.annotations.runbook_url).toBe("docs/runbook.md#probe112pathdown");
    expect(pager.groupLabels).toEqual({
      alertname: "Probe112PathDown",
      provider: "kpn",
      agent: stack.agentId,
      path: "kpn-voip",
    });
    // The other paths carry on: nothing about them, and no provider or chain alert.
    const firing = stack.webhook.notifications.flatMap((n) => n.alerts.filter((a) => a.status === "firing"));
    expect(
      firing.filter((a) => a.labels.path !== "kpn-voip").map((a) => a.labels.alertname),
      received(),
    ).toEqual([]);
    expect(
      stack.webhook.notifications.every((n) => PAGED.includes(n.path)),
      received(),
    ).toBe(true);
  }, 90_000);

  it("every path blackholed: Probe112ChainDown pages the crisis line, and per-path and per-provider alerts are held back", async () => {
    const before = stack.webhook.notifications.length;
    // A call already under way when its path is cut fails up to a call's length (~3.8 s) before
    // the path's next call would. Cut then, one path could be confirmed down, and page, before
    // the last path's first failure raises Probe112ChainDown: the scaled for: and group_wait
    // (1.3 s) no longer cover that, as the shipped ones (20 s) nearly always do (bench/alerting.ts
    // models how often they do not). So the cut falls between calls.
    await sleepUntil(quietMoment(["kpn-fixed", "vz-volte"], "spread"));
    const t0 = Date.now();
    await stack.blackhole(["kpn-fixed", "vz-volte"]);
    const crisis = await stack.webhook.waitFor(
      (n) => n.path === "/national-crisis" && carries(n, "Probe112ChainDown", "firing"),
      60_000,
      "Probe112ChainDown at /national-crisis",
    );
    const pager = await stack.webhook.waitFor(
      (n) => n.path === "/noc-pager" && carries(n, "Probe112ChainDown", "firing"),
      10_000,
      "Probe112ChainDown at /noc-pager",
    );
    timings.chainDownToNationalCrisis = since(t0, crisis);
    timings.chainDownToNocPager = since(t0, pager);
    console.log(
      `alerting: every path blackholed, Probe112ChainDown at /national-crisis after ${timings.chainDownToNationalCrisis} s`,
    );
    expect(crisis.alerts.find((a) => a.labels.alertname === "Probe112ChainDown")!.labels).toMatchObject({
      severity: "critical",
      scope: "national",
    });

    // The confirmed per-path and per-provider alerts come up behind it, in Alertmanager, inhibited.
    let seen: AmAlert[] = [];
    const chain = await eventually(
      async () => {
        seen = await stack.alertmanager.alerts();
        const held = [...alertsNamed(seen, "Probe112PathDown"), ...alertsNamed(seen, "Probe112ProviderDown")];
        const chainDown = alertsNamed(seen, "Probe112ChainDown")[0];
        return held.length === PATHS.length + 2 &&
          held.every((a) => a.status.state === "suppressed") &&
          chainDown
          ? { held, chainDown }
          : undefined;
      },
      30_000,
      () =>
        `3 Probe112PathDown and 2 Probe112ProviderDown, suppressed, in Alertmanager; it holds:\n${JSON.stringify(
          seen.map((a) => [a.labels.alertname, a.labels.path ?? a.labels.provider, a.status]),
        )}`,
      500,
    );
    expect(chain.chainDown.status.state).toBe("active");
    for (const a of chain.held)
      expect(a.status.inhibitedBy, JSON.stringify(a.labels)).toEqual([chain.chainDown.fingerprint]);
    expect(chain.held.map((a) => a.labels.path ?? a.labels.provider).sort()).toEqual([
      "kpn",
      "kpn-fixed",
      "kpn-voip",
      "vodafoneziggo",
      "vz-volte",
    ]);
    // Give Alertmanager a group_wait and a group_interval (scaled) to notify them, if it were to.
    await new Promise((r) => setTimeout(r, 6000));
    const after = stack.webhook.notifications.slice(before);
    const firing = after.flatMap((n) =>
      n.alerts.filter((a) => a.status === "firing").map((a) => a.labels.alertname),
    );
    expect(
      firing.filter((name) => name !== "Probe112ChainDown"),
      received(),
    ).toEqual([]);
  }, 90_000);

  it("restored: every alert resolves, and whatever paged is resolved at the same receivers", async () => {
    const before = stack.webhook.notifications.length;
    // Each path comes back between its calls: a call whose INVITE is resent across the restore
    // is answered with an SRD that includes the outage, and a single such call among the few the
    // 15 minute window holds here sets off Probe112SlowSetup (a warning) minutes later.
    const order = PATHS.map((p) => ({ id: p.id, at: quietMoment([p.id], "first") })).sort(
      (a, b) => a.at - b.at,
    );
    let t0 = 0;
    for (const { id, at } of order) {
      await sleepUntil(at);
      await stack.restore([id]);
      t0 ||= Date.now();
    }
    const chainResolved = await stack.webhook.waitFor(
      (n) => n.path === "/national-crisis" && carries(n, "Probe112ChainDown", "resolved"),
      60_000,
      "Probe112ChainDown resolved at /national-crisis",
    );
    const pathResolved = await stack.webhook.waitFor(
      (n) => n.path === "/provider-kpn" && carries(n, "Probe112PathDown", "resolved", { path: "kpn-voip" }),
      60_000,
      "Probe112PathDown resolved for kpn-voip at /provider-kpn",
    );
    await stack.webhook.waitFor(
      (n) => n.path === "/noc-pager" && carries(n, "Probe112PathDown", "resolved", { path: "kpn-voip" }),
      30_000,
      "Probe112PathDown resolved for kpn-voip at /noc-pager",
    );
    await stack.webhook.waitFor(
      (n) => n.path === "/noc-pager" && carries(n, "Probe112ChainDown", "resolved"),
      30_000,
      "Probe112ChainDown resolved at /noc-pager",
    );
    timings.restoreToChainResolved = since(t0, chainResolved);
    timings.restoreToPathResolved = since(t0, pathResolved);
    console.log(
      `alerting: restored, Probe112ChainDown resolved after ${timings.restoreToChainResolved} s, Probe112PathDown (kpn-voip) after ${timings.restoreToPathResolved} s`,
    );
    let left: unknown[] = [];
    await eventually(
      async () => {
        left = await stack.prometheus.alerts();
        return left.length === 0;
      },
      30_000,
      () => `no alert pending or firing in Prometheus: ${JSON.stringify(left)}`,
      500,
    );
    await eventually(
      async () =>
        (await stack.alertmanager.alerts()).every((a) => new Date(a.endsAt).getTime() <= Date.now()),
      30_000,
      "every alert in Alertmanager resolved",
      500,
    );
    // Probe112ChainDown keeps firing for keep_firing_for after the first path answers again, so
    // the alerts it holds back for paths whose next call has not come yet stay held back. Should
    // a path's call come later still, its alert may page until then: pages of recovery, for the
    // paths and providers cut in the chain phase only, and each must be resolved where it paged.
    const recovery = stack.webhook.notifications
      .slice(before)
      .flatMap((n) =>
        n.alerts.filter((a) => a.status === "firing").map((a) => ({ receiver: n.path, alert: a })),
      );
    if (recovery.length > 0)
      console.log(
        `alerting: paged while recovering: ${recovery.map((r) => `${r.receiver} ${r.alert.labels.alertname}{${r.alert.labels.path ?? r.alert.labels.provider}}`).join(", ")}`,
      );
    for (const { receiver, alert } of recovery) {
      expect(["Probe112PathDown", "Probe112ProviderDown"]).toContain(alert.labels.alertname);
      expect(["kpn-fixed", "vz-volte", "kpn", "vodafoneziggo"]).toContain(
        alert.labels.path ?? alert.labels.provider,
      );
      await stack.webhook.waitFor(
        (n) =>
          n.path === receiver &&
          n.alerts.some((a) => a.status === "resolved" && a.fingerprint === alert.fingerprint),
        30_000,
        `resolving ${alert.labels.alertname} (${alert.fingerprint}) at ${receiver}`,
      );
    }
    // Alerts that never paged (held back, or never firing) do not send a resolved notification either.
    const everFiring = new Set(
      stack.webhook.notifications.flatMap((n) =>
        n.alerts.filter((a) => a.status === "firing").map((a) => `${n.path} ${a.fingerprint}`),
      ),
    );
    const orphanResolved = stack.webhook.notifications.flatMap((n) =>
      n.alerts.filter((a) => a.status === "resolved" && !everFiring.has(`${n.path} ${a.fingerprint}`)),
    );
    expect(
      orphanResolved.map((a) => a.labels),
      received(),
    ).toEqual([]);
    expect(stack.webhook.refused).toEqual([]);
  }, 150_000);
});
