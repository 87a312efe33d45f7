import { spawnSync } from "node:child_process";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { scheduledNationalTest } from "../../src/cellbroadcast/national-test.js";
import { CellBroadcastMetrics } from "../../src/metrics/cell-broadcast-metrics.js";
import { NL_2023 } from "../cellbroadcast/vectors.js";
import { ProbeHarness, testModem } from "../support/cb-probe.js";
import { type PtyPair, startPtyPair } from "../support/pty-pair.js";
import { openSimModem, type SimModem } from "../support/sim-modem.js";

// Results of a real probe on a pty, through the metrics, checked value by value and by promtool.

let pty: PtyPair | undefined;
let sim: SimModem | undefined;
let harness: ProbeHarness | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await harness?.stop();
  sim?.close();
  await pty?.close();
});

/** One sample's value from the text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(" ").at(-1));
  }
  return undefined;
}

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function setup() {
  pty = await startPtyPair();
  sim = openSimModem(pty.modem);
  const registry = new Registry();
  const metrics = new CellBroadcastMetrics(registry);
  const modem = testModem(pty.host);
  metrics.declareModems([modem]);
  harness = new ProbeHarness(modem).start((r) => metrics.record(r));
  return { registry, harness, sim, pty };
}

describe("cell-broadcast metrics", () => {
  it("every series exists from the start and passes promtool", async () => {
    const registry = new Registry();
    new CellBroadcastMetrics(registry).declareModems([
      { id: "kpn-utrecht", operator: "kpn", region: "utrecht" },
    ]);
    const text = await registry.metrics();
    const l = { modem: "kpn-utrecht", operator: "kpn", region: "utrecht" };
    expect(sample(text, "probe112_cb_pages_total", { ...l, mid: "4371" })).toBe(0);
    expect(sample(text, "probe112_cb_pages_total", { ...l, mid: "other" })).toBe(0);
    expect(sample(text, "probe112_cb_decode_errors_total", { ...l, reason: "dcs" })).toBe(0);
    expect(sample(text, "probe112_cb_alerts_total", { ...l, kind: "nl_test" })).toBe(0);
    expect(sample(text, "probe112_cb_national_test_missed", l)).toBe(0);
    expect(sample(text, "probe112_cb_receiver_connected", l)).toBe(0);
    const p = promtool(text);
    expect(p.output).toBe("");
    expect(p.status).toBe(0);
  });

  it("health, broadcasts, repetitions and a lost port, as metrics; promtool agrees", async () => {
    const { registry, harness, sim, pty } = await setup();
    await harness.healthy();
    for (let i = 0; i < 2; i++) for (const pdu of NL_2023) sim.cbm(pdu);
    await harness.waitFor((r) => r.event === "broadcast");
    const l = { modem: "kpn-utrecht", operator: "kpn", region: "utrecht" };
    // Repetitions are counted into the next result: wait for it.
    await vi.waitFor(
      async () =>
        expect(sample(await registry.metrics(), "probe112_cb_pages_total", { ...l, mid: "4371" })).toBe(6),
      { timeout: 15_000, interval: 100 },
    );
    let text = await registry.metrics();
    expect(sample(text, "probe112_cb_receiver_connected", l)).toBe(1);
    expect(sample(text, "probe112_cb_receiver_initialised", l)).toBe(1);
    expect(sample(text, "probe112_cb_receiver_registered", l)).toBe(1);
    expect(sample(text, "probe112_cb_receiver_subscription_verified", l)).toBe(1);
    expect(sample(text, "probe112_cb_receiver_plmn_expected", l)).toBe(1);
    expect(sample(text, "probe112_cb_receiver_signal_dbm", l)).toBe(-71);
    expect(sample(text, "probe112_cb_receiver_info", { ...l, plmn: "20408", rat: "lte", mode: "pdu" })).toBe(
      1,
    );
    expect(sample(text, "probe112_cb_pages_total", { ...l, mid: "4371" })).toBe(6);
    expect(sample(text, "probe112_cb_duplicate_pages_total", { ...l, mid: "4371" })).toBe(3);
    expect(sample(text, "probe112_cb_broadcasts_total", { ...l, mid: "4371" })).toBe(1);
    expect(sample(text, "probe112_cb_alerts_total", { ...l, kind: "nl_test" })).toBe(1);
    const firstSeen = sample(text, "probe112_cb_alert_first_seen_timestamp_seconds", {
      ...l,
      kind: "nl_test",
    })!;
    expect(Math.abs(firstSeen - Date.now() / 1000)).toBeLessThan(30);
    expect(
      sample(text, "probe112_cb_last_broadcast_timestamp_seconds", { ...l, kind: "nl_test" }),
    ).toBeGreaterThan(0);
    expect(promtool(text)).toEqual({ status: 0, output: "" });

    await pty.unplug();
    await harness.waitFor((r) => r.event === "link" && !r.link.up);
    text = await registry.metrics();
    expect(sample(text, "probe112_cb_receiver_connected", l)).toBe(0);
    expect(sample(text, "probe112_cb_receiver_disconnects_total", l)).toBe(1);
    expect(promtool(text)).toEqual({ status: 0, output: "" });
  });

  it("a scheduled national test that does not arrive sets the missed gauge; a late receipt clears it", async () => {
    const slot = scheduledNationalTest(2025, 12).getTime(); // Monday 1 December 2025, 12:00 CET
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(slot - 40 * 60_000);
    const { registry, harness, sim } = await setup();
    await harness.healthy();
    const l = { modem: "kpn-utrecht", operator: "kpn", region: "utrecht" };
    harness.probe.nationalTestDue(slot + 14 * 60_000);
    expect(harness.of("national_test")).toHaveLength(0);
    harness.probe.nationalTestDue(slot + 15 * 60_000 + 1);
    const missed = harness.of("national_test")[0]!;
    expect(missed.nationalTest).toMatchObject({
      scheduledAt: "2025-12-01T11:00:00.000Z",
      deadline: "2025-12-01T11:15:00.000Z",
      received: false,
      late: false,
    });
    expect(missed.success).toBe(false);
    expect(sample(await registry.metrics(), "probe112_cb_national_test_missed", l)).toBe(1);
    harness.probe.nationalTestDue(slot + 20 * 60_000);
    expect(harness.of("national_test")).toHaveLength(1); // judged once

    vi.setSystemTime(slot + 20 * 60_000);
    for (const pdu of NL_2023) sim.cbm(pdu);
    const late = await harness.waitFor((r) => r.event === "national_test" && r.nationalTest.received);
    expect(late.event === "national_test" && late.nationalTest.late).toBe(true);
    const b = harness.of("broadcast")[0]!;
    expect(b.broadcast.nationalTestSlot).toBe("2025-12-01T11:00:00.000Z");
    expect(b.broadcast.latency.schedule).toBeGreaterThanOrEqual(1200);
    const text = await registry.metrics();
    expect(sample(text, "probe112_cb_national_test_missed", l)).toBe(0);
    expect(sample(text, "probe112_cb_delivery_latency_seconds_count", { ...l, reference: "schedule" })).toBe(
      1,
    );
    expect(promtool(text)).toEqual({ status: 0, output: "" });
  });

  it("silence never raises anything: no test slot passed while watching, nothing missed", async () => {
    const slot = scheduledNationalTest(2025, 12).getTime();
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(slot + 60_000); // started after the slot: it cannot know
    const { registry, harness } = await setup();
    await harness.healthy();
    harness.probe.nationalTestDue(slot + 3600_000);
    expect(harness.of("national_test")).toHaveLength(0);
    expect(
      sample(await registry.metrics(), "probe112_cb_national_test_missed", { modem: "kpn-utrecht" }),
    ).toBe(0);
  });
});
