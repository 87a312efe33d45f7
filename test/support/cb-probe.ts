import { NL_SUBSCRIPTION } from "../../src/cellbroadcast/channels.js";
import type { ModemConfig } from "../../src/config/modem-config.js";
import { CellBroadcastProbe, type CellBroadcastProbeTuning } from "../../src/probes/cell-broadcast-probe.js";
import type { CellBroadcastResult } from "../../src/results/result.js";
import { testLogger } from "./call.js";

/** A modem configuration for tests: quick health checks, the NL subscription. */
export function testModem(device: string, over: Partial<ModemConfig> = {}): ModemConfig {
  return {
    id: "kpn-utrecht",
    device,
    operator: "kpn",
    region: "utrecht",
    expectPlmn: "20408",
    pinPlmn: false,
    baudRate: 115200,
    channels: NL_SUBSCRIPTION,
    healthInterval: 1,
    assemblyTimeout: 300,
    nationalTestGraceMinutes: 15,
    ...over,
  };
}

/** A cell-broadcast probe whose results are collected, with a way to wait for one. */
export class ProbeHarness {
  readonly results: CellBroadcastResult[] = [];
  readonly probe: CellBroadcastProbe;
  private waiters: Array<() => void> = [];

  constructor(modem: ModemConfig, tuning: CellBroadcastProbeTuning = {}) {
    this.probe = new CellBroadcastProbe(
      modem,
      { agent: "test", logger: testLogger },
      {
        commandTimeoutMs: 1000,
        initRetryMs: 300,
        reconnectMinMs: 100,
        reconnectMaxMs: 400,
        ...tuning,
      },
    );
  }

  /** Starts the probe; every result is kept and also handed to `also` (metrics, say). */
  start(also?: (r: CellBroadcastResult) => void): this {
    this.probe.start((r) => {
      this.results.push(r);
      also?.(r);
      for (const w of [...this.waiters]) w();
    });
    return this;
  }

  stop(): Promise<void> {
    return this.probe.stop();
  }

  /** Results of one event type so far. */
  of<E extends CellBroadcastResult["event"]>(event: E): Array<Extract<CellBroadcastResult, { event: E }>> {
    return this.results.filter((r): r is Extract<CellBroadcastResult, { event: E }> => r.event === event);
  }

  /** Resolves with the first result from index `from` on that satisfies `match`. */
  waitFor<R extends CellBroadcastResult>(
    match: (r: CellBroadcastResult) => r is R,
    timeoutMs?: number,
    from?: number,
  ): Promise<R>;
  waitFor(
    match: (r: CellBroadcastResult) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<CellBroadcastResult>;
  waitFor(
    match: (r: CellBroadcastResult) => boolean,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<CellBroadcastResult> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.results.slice(from).find(match);
        if (hit) {
          cleanup();
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `no matching result within ${timeoutMs} ms; got ${this.results
              .slice(from)
              .map((r) => r.event)
              .join(", ")}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  /** A healthy, initialised receiver reported from index `from` on. */
  healthy(from = 0, timeoutMs = 10_000) {
    return this.waitFor(
      (r): r is Extract<CellBroadcastResult, { event: "health" }> =>
        r.event === "health" && r.health.initialised && r.health.subscriptionOk,
      timeoutMs,
      from,
    );
  }

  /** Every count of one kind added up over the results so far. */
  total(kind: keyof CellBroadcastResult["counts"], key?: string): number {
    let n = 0;
    for (const r of this.results)
      for (const [k, v] of Object.entries(r.counts[kind])) if (key === undefined || k === key) n += v;
    return n;
  }
}
