/**
 * Lab delivery measurement: put a broadcast on a test channel through a CBC's ECBE interface and
 * time its arrival at every modem, from the moment the POST went out (nlalert.md §5.4). Every
 * modem listens before the POST, because a CBC answers only after its cells acknowledged and
 * the broadcast may arrive first.
 */

import { randomInt } from "node:crypto";
import type { Logger } from "pino";
import { normaliseText } from "./alert-correlator.js";
import { type Broadcast, BroadcastReceiver } from "./broadcast-receiver.js";
import { CbcClient, CbcError } from "./cbc-client.js";
import { ModemDriver, type ModemHealth } from "./modem-driver.js";

export interface LabOptions {
  readonly cbc: string;
  readonly devices: readonly string[];
  readonly channel: number;
  readonly text: string;
  readonly baudRate?: number;
  /** Random (0–1023) when absent, so that an earlier run's broadcast is never taken for this one. */
  readonly messageCode?: number;
  readonly language?: string;
  readonly characterSet?: "gsm" | "ucs2";
  readonly repetitionPeriod?: number;
  readonly numberOfBroadcasts?: number;
  /** How long to wait for the broadcast at every modem after the POST. */
  readonly waitMs?: number;
  /** How long the modems get to initialise before the POST. */
  readonly readyTimeoutMs?: number;
  /** Leave the broadcast on the CBC afterwards (no DELETE). */
  readonly keep?: boolean;
  readonly logger: Logger;
  readonly commandTimeoutMs?: number;
}

export interface LabDeviceResult {
  readonly device: string;
  readonly ready: boolean;
  readonly received: boolean;
  /** Seconds from the POST to the first page, and to the last page (the message complete). */
  readonly firstPageSeconds: number | null;
  readonly completeSeconds: number | null;
  readonly pages: number | null;
  readonly text: string | null;
  readonly textMatches: boolean;
  readonly health: ModemHealth;
}

export interface LabResult {
  readonly cbc: string;
  readonly channel: number;
  readonly messageCode: number;
  readonly postedAt: string | null;
  readonly createStatus: number | null;
  /** Seconds the CBC took to answer the POST. */
  readonly createSeconds: number | null;
  readonly error: string | null;
  readonly deleteStatus: number | null;
  readonly devices: readonly LabDeviceResult[];
  /** Every modem received the broadcast complete. */
  readonly success: boolean;
}

interface Station {
  readonly device: string;
  readonly driver: ModemDriver;
  readonly receiver: BroadcastReceiver;
  broadcast?: Broadcast;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one lab broadcast and reports the delivery latency per modem. */
export async function runLabBroadcast(o: LabOptions): Promise<LabResult> {
  const messageCode = o.messageCode ?? randomInt(0, 1024);
  let t0: number | undefined;
  let notify: () => void = () => {};
  const stations: Station[] = o.devices.map((device) => {
    const logger = o.logger.child({ device });
    let station: Station | undefined;
    const receiver = new BroadcastReceiver({
      onEvent: (e) => {
        if (e.type !== "broadcast" || !station || station.broadcast) return;
        const b = e.broadcast;
        // Only this run's broadcast: its channel and message code, and not before the POST.
        if (b.messageIdentifier !== o.channel || b.serialNumber.messageCode !== messageCode) return;
        if (!b.complete || t0 === undefined || b.firstPageMono < t0) return;
        station.broadcast = b;
        notify();
      },
      location: () => driver.location(),
    });
    const driver = new ModemDriver(
      {
        device,
        baudRate: o.baudRate ?? 115200,
        channels: String(o.channel),
        healthIntervalMs: 60_000,
        initRetryMs: 2000,
        reconnectMinMs: 500,
        reconnectMaxMs: 5000,
        ...(o.commandTimeoutMs !== undefined ? { commandTimeoutMs: o.commandTimeoutMs } : {}),
        logger,
      },
      {
        cbm: (u) => {
          const arrival = { at: u.receivedAt, mono: u.receivedMono };
          if (u.header.mode === "pdu") receiver.pdu(u.data, arrival, u.header.length);
          else receiver.text(u.header, u.data, arrival);
        },
        health: () => {},
        fault: (kind, sample) => logger.debug({ kind, sample }, "serial line fault"),
        link: () => {},
      },
    );
    station = { device, driver, receiver };
    return station;
  });
  for (const s of stations) s.driver.start();
  const client = new CbcClient(o.cbc);
  let postedAt: number | null = null;
  let createStatus: number | null = null;
  let createSeconds: number | null = null;
  let deleteStatus: number | null = null;
  let error: string | null = null;
  let ready = new Set<string>();
  try {
    const readyBy = Date.now() + (o.readyTimeoutMs ?? 60_000);
    while (Date.now() < readyBy && !stations.every((s) => s.driver.health.initialised)) await sleep(100);
    ready = new Set(stations.filter((s) => s.driver.health.initialised).map((s) => s.device));
    const notReady = o.devices.filter((d) => !ready.has(d));
    if (notReady.length > 0)
      o.logger.warn({ devices: notReady }, "modems not initialised: broadcasting anyway");
    const all = new Promise<void>((resolve) => {
      notify = () => {
        if (stations.every((s) => s.broadcast)) resolve();
      };
    });
    t0 = performance.now();
    postedAt = Date.now();
    try {
      const r = await client.create({
        cbeName: "probe112-lab",
        messageId: o.channel,
        messageCode,
        text: o.text,
        characterSet: o.characterSet ?? "gsm",
        ...(o.language ? { language: o.language } : {}),
        repetitionPeriod: o.repetitionPeriod ?? 5,
        numberOfBroadcasts: o.numberOfBroadcasts ?? 0,
      });
      createStatus = r.status;
      createSeconds = (performance.now() - t0) / 1000;
    } catch (e) {
      createStatus = e instanceof CbcError ? e.status : null;
      error = e instanceof CbcError ? e.message : `the CBC cannot be reached: ${(e as Error).message}`;
    }
    if (error === null) {
      notify();
      await Promise.race([all, sleep(o.waitMs ?? 300_000)]);
      if (!o.keep) {
        try {
          deleteStatus = (await client.delete(o.channel)).status;
        } catch (e) {
          deleteStatus = e instanceof CbcError ? e.status : null;
          o.logger.warn({ err: (e as Error).message }, "could not withdraw the lab broadcast");
        }
      }
    }
  } finally {
    for (const s of stations) s.receiver.stop();
    await Promise.all(stations.map((s) => s.driver.stop()));
  }
  const wanted = normaliseText(o.text);
  const devices = stations.map((s): LabDeviceResult => {
    const b = s.broadcast;
    return {
      device: s.device,
      ready: ready.has(s.device),
      received: b !== undefined,
      firstPageSeconds: b && t0 !== undefined ? (b.firstPageMono - t0) / 1000 : null,
      completeSeconds: b && t0 !== undefined ? (b.lastPageMono - t0) / 1000 : null,
      pages: b ? b.pages : null,
      text: b ? b.text : null,
      textMatches: b !== undefined && normaliseText(b.text) === wanted,
      health: s.driver.health,
    };
  });
  return {
    cbc: o.cbc,
    channel: o.channel,
    messageCode,
    postedAt: postedAt === null ? null : new Date(postedAt).toISOString(),
    createStatus,
    createSeconds,
    error,
    deleteStatus,
    devices,
    success: error === null && devices.every((d) => d.received),
  };
}
