import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ChannelFault } from "../cellbroadcast/at-channel.js";
import {
  type Broadcast,
  BroadcastReceiver,
  type ReceiverEvent,
} from "../cellbroadcast/broadcast-receiver.js";
import { channelName, labelledChannels, midLabel } from "../cellbroadcast/channels.js";
import { ModemDriver, type ModemHealth } from "../cellbroadcast/modem-driver.js";
import { nationalTestsAround, withinNationalTestWindow } from "../cellbroadcast/national-test.js";
import type { ModemConfig } from "../config/modem-config.js";
import type {
  CellBroadcastCounts,
  CellBroadcastReport,
  CellBroadcastResult,
  NationalTestReport,
} from "../results/result.js";
import type { ListeningProbe } from "./probe.js";

export interface CellBroadcastProbeContext {
  readonly agent: string;
  readonly logger: Logger;
}

/** Knobs for tests and lab tools; production uses the defaults. */
export interface CellBroadcastProbeTuning {
  readonly nationalTestCheckMs?: number;
  readonly commandTimeoutMs?: number;
  readonly initRetryMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/** A national-test broadcast up to this long before its slot still counts for it. */
const NATIONAL_TEST_EARLY_MS = 30 * 60 * 1000;
/** Latency against the schedule is measured for test broadcasts up to this long after the slot. */
const NATIONAL_TEST_LATE_MS = 6 * 3600 * 1000;

type Tally = Record<string, number>;

function bump(t: Tally, key: string): void {
  t[key] = (t[key] ?? 0) + 1;
}

/**
 * One modem listening for NL-Alert on one operator's network. Every broadcast (each copy once),
 * every health check, link change and national-test verdict becomes a result; repetitions,
 * decode errors and line noise are counted into the next result. Silence is never a failure:
 * only a scheduled national test that does not arrive is.
 */
export class CellBroadcastProbe implements ListeningProbe<CellBroadcastResult> {
  readonly kind = "cell_broadcast";
  readonly check: string;
  private readonly driver: ModemDriver;
  private readonly receiver: BroadcastReceiver;
  private readonly subscribed: ReadonlySet<number>;
  private counts = emptyCounts();
  private publish: ((r: CellBroadcastResult) => void) | undefined;
  private startedAt = 0;
  private nationalTimer: ReturnType<typeof setInterval> | undefined;
  private evaluatedSlot: number | undefined;
  private missedSlot: number | undefined;
  private lastNationalTestAt: number | undefined;

  constructor(
    private readonly modem: ModemConfig,
    private readonly ctx: CellBroadcastProbeContext,
    private readonly tuning: CellBroadcastProbeTuning = {},
  ) {
    this.check = `cb.${modem.id}`;
    this.subscribed = labelledChannels(modem.channels);
    const logger = ctx.logger.child({ modem: modem.id, device: modem.device });
    this.driver = new ModemDriver(
      {
        device: modem.device,
        baudRate: modem.baudRate,
        channels: modem.channels,
        ...(modem.expectPlmn ? { expectPlmn: modem.expectPlmn } : {}),
        pinPlmn: modem.pinPlmn,
        healthIntervalMs: modem.healthInterval * 1000,
        ...(tuning.commandTimeoutMs !== undefined ? { commandTimeoutMs: tuning.commandTimeoutMs } : {}),
        ...(tuning.initRetryMs !== undefined ? { initRetryMs: tuning.initRetryMs } : {}),
        ...(tuning.reconnectMinMs !== undefined ? { reconnectMinMs: tuning.reconnectMinMs } : {}),
        ...(tuning.reconnectMaxMs !== undefined ? { reconnectMaxMs: tuning.reconnectMaxMs } : {}),
        logger,
      },
      {
        cbm: (u) => {
          const arrival = { at: u.receivedAt, mono: u.receivedMono };
          if (u.header.mode === "pdu") this.receiver.pdu(u.data, arrival, u.header.length);
          else this.receiver.text(u.header, u.data, arrival);
        },
        health: (h) => this.onHealth(h),
        fault: (kind, sample) => this.fault(kind, sample),
        link: (up, reason) => this.emit({ event: "link", link: { up, reason } }, up),
      },
    );
    this.receiver = new BroadcastReceiver({
      onEvent: (e) => this.received(e),
      location: () => this.driver.location(),
      assemblyTimeoutMs: modem.assemblyTimeout * 1000,
    });
  }

  start(publish: (r: CellBroadcastResult) => void): void {
    this.publish = publish;
    this.startedAt = Date.now();
    this.driver.start();
    this.nationalTimer = setInterval(() => this.nationalTestDue(), this.tuning.nationalTestCheckMs ?? 30_000);
  }

  async stop(): Promise<void> {
    if (this.nationalTimer) clearInterval(this.nationalTimer);
    this.receiver.stop();
    await this.driver.stop();
    this.publish = undefined;
  }

  /** The modem's latest health snapshot. */
  get health(): ModemHealth {
    return this.driver.health;
  }

  /** Checks whether a scheduled national test has passed its grace period unreceived. */
  nationalTestDue(now = Date.now()): void {
    const slot = nationalTestsAround(new Date(now)).previous.getTime();
    const deadline = slot + this.modem.nationalTestGraceMinutes * 60_000;
    // Only a slot this probe watched from its start can be missed: a restart after it proves nothing.
    if (now < deadline || this.evaluatedSlot === slot || this.startedAt > slot - NATIONAL_TEST_EARLY_MS)
      return;
    this.evaluatedSlot = slot;
    const at = this.lastNationalTestAt;
    const received = at !== undefined && at >= slot - NATIONAL_TEST_EARLY_MS && at <= deadline;
    if (!received) this.missedSlot = slot;
    if (!received)
      this.ctx.logger.error(
        { modem: this.modem.id, slot: new Date(slot).toISOString() },
        "national test missed",
      );
    this.emit(
      {
        event: "national_test",
        nationalTest: nationalTestReport(slot, deadline, received ? at! : undefined, false),
      },
      received,
    );
  }

  private onHealth(h: ModemHealth): void {
    const ok = h.connected && h.initialised && h.registered && h.subscriptionOk && h.plmnOk;
    this.emit({ event: "health", health: h }, ok);
  }

  private fault(kind: ChannelFault, sample: string): void {
    bump(this.counts.lineFaults, kind);
    const level = kind === "missing_pdu" || kind === "half_line" ? "warn" : "debug";
    this.ctx.logger[level]({ modem: this.modem.id, kind, sample }, "serial line fault");
  }

  private received(e: ReceiverEvent): void {
    switch (e.type) {
      case "page":
        bump(this.counts.pages, this.midLabel(e.mid));
        if (e.duplicate) bump(this.counts.duplicatePages, this.midLabel(e.mid));
        return;
      case "duplicate":
        bump(this.counts.duplicateMessages, this.midLabel(e.mid));
        return;
      case "decode_error":
        bump(this.counts.decodeErrors, e.reason);
        this.ctx.logger.warn(
          { modem: this.modem.id, reason: e.reason, error: e.message, recovered: e.recovered, pdu: e.pdu },
          e.recovered
            ? "broadcast with a disagreeing length: decoded anyway"
            : "broadcast could not be decoded",
        );
        return;
      case "broadcast":
        this.broadcast(e.broadcast);
        return;
    }
  }

  private broadcast(b: Broadcast): void {
    const report = toReport(b);
    if (b.kind === "nl_test" && b.alert.first) {
      this.lastNationalTestAt = b.firstPageAt;
      const slot = this.missedSlot;
      if (slot !== undefined && b.firstPageAt > slot && b.firstPageAt - slot < 24 * 3600 * 1000) {
        this.missedSlot = undefined;
        const deadline = slot + this.modem.nationalTestGraceMinutes * 60_000;
        this.emit(
          { event: "national_test", nationalTest: nationalTestReport(slot, deadline, b.firstPageAt, true) },
          true,
        );
      }
    }
    const level = report.kind === "alert" ? "warn" : "info";
    this.ctx.logger[level](
      {
        modem: this.modem.id,
        mid: report.messageIdentifier,
        kind: report.kind,
        status: report.status,
        alertId: report.alertId,
        text: report.text,
      },
      report.status === "complete" ? "cell broadcast received" : "cell broadcast incomplete",
    );
    this.emit({ event: "broadcast", broadcast: report }, report.status === "complete");
  }

  private midLabel(mid: number): string {
    return midLabel(mid, this.subscribed);
  }

  private emit(body: EventBody, success: boolean): void {
    const counts = this.counts;
    this.counts = emptyCounts();
    const r = {
      kind: "cell_broadcast",
      id: randomUUID(),
      agent: this.ctx.agent,
      check: this.check,
      modem: this.modem.id,
      operator: this.modem.operator,
      region: this.modem.region,
      device: this.modem.device,
      at: new Date().toISOString(),
      success,
      counts,
      ...body,
    } as CellBroadcastResult;
    try {
      this.publish?.(r);
    } catch (e) {
      this.ctx.logger.error(
        { modem: this.modem.id, err: (e as Error).message },
        "publishing a result failed",
      );
    }
  }
}

type EventBody =
  | { event: "broadcast"; broadcast: CellBroadcastReport }
  | { event: "health"; health: ModemHealth }
  | { event: "link"; link: { up: boolean; reason: string } }
  | { event: "national_test"; nationalTest: NationalTestReport };

function emptyCounts(): CellBroadcastCounts & { [K in keyof CellBroadcastCounts]: Tally } {
  return { pages: {}, duplicatePages: {}, duplicateMessages: {}, decodeErrors: {}, lineFaults: {} };
}

function nationalTestReport(
  slot: number,
  deadline: number,
  receivedAt: number | undefined,
  late: boolean,
): NationalTestReport {
  return {
    scheduledAt: new Date(slot).toISOString(),
    deadline: new Date(deadline).toISOString(),
    received: receivedAt !== undefined,
    receivedAt: receivedAt === undefined ? null : new Date(receivedAt).toISOString(),
    late,
  };
}

/** A broadcast as the result reports it: fields, times as ISO text, latencies in seconds. */
export function toReport(b: Broadcast): CellBroadcastReport {
  const slot =
    b.kind === "nl_test"
      ? withinNationalTestWindow(new Date(b.firstPageAt), NATIONAL_TEST_EARLY_MS, NATIONAL_TEST_LATE_MS)
      : undefined;
  return {
    status: b.complete ? "complete" : "incomplete",
    kind: b.kind,
    format: b.format,
    messageIdentifier: b.messageIdentifier,
    channel: channelName(b.messageIdentifier),
    serialNumber: b.serialNumber,
    dcs: b.dcs,
    language: b.language,
    pages: b.pages,
    pagesReceived: b.received,
    text: b.text,
    isUpdate: b.isUpdate,
    afterIncomplete: b.afterIncomplete,
    alertId: b.alert.alertId,
    firstCopy: b.alert.first,
    alertFirstSeenAt: new Date(b.alert.firstSeenAt).toISOString(),
    alertChannels: b.alert.channels,
    firstPageAt: new Date(b.firstPageAt).toISOString(),
    lastPageAt: new Date(b.lastPageAt).toISOString(),
    textTime: b.textTime ? b.textTime.toISOString() : null,
    nationalTestSlot: slot ? slot.toISOString() : null,
    latency: {
      schedule: slot ? (b.firstPageAt - slot.getTime()) / 1000 : null,
      textTime: b.textTime ? (b.firstPageAt - b.textTime.getTime()) / 1000 : null,
    },
    pdus: b.pdus,
    warnings: b.warnings,
  };
}
