/**
 * An AT-command modem as a cell-broadcast receiver: opens the port, runs the init sequence of
 * nlalert.md §4.2, hands every +CBM on, checks registration, operator, signal and the CB
 * subscription periodically, and recovers by itself from a vanished port, a modem reset or a
 * modem that stopped answering.
 */

import type { Logger } from "pino";
import { AtChannel, AtCommandError, type CbmUrc, type ChannelFault } from "./at-channel.js";
import { LineSplitter } from "./at-lines.js";
import {
  parseCops,
  parseCscb,
  parseCsq,
  parseRegistration,
  type Registration,
  ratOf,
} from "./at-responses.js";
import { missingChannels, NL_SUBSCRIPTION } from "./channels.js";
import { SerialLink } from "./serial-link.js";

export interface ModemDriverOptions {
  readonly device: string;
  readonly baudRate?: number;
  /** Channels to subscribe to; default the NL list. */
  readonly channels?: string;
  /** PLMN (MCC+MNC) the SIM should be on; reported, and pinned with AT+COPS=1 when pinPlmn. */
  readonly expectPlmn?: string;
  readonly pinPlmn?: boolean;
  readonly healthIntervalMs?: number;
  /** After a failed init, try again this soon. */
  readonly initRetryMs?: number;
  readonly commandTimeoutMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly logger: Logger;
}

export interface ModemHealth {
  readonly at: number;
  /** The port is open. */
  readonly connected: boolean;
  /** The init sequence completed: PDU/text mode, subscription and URC routing set. */
  readonly initialised: boolean;
  readonly registered: boolean;
  readonly registration: { readonly cs: Registration | null; readonly eps: Registration | null };
  readonly plmn: string;
  readonly rat: "gsm" | "umts" | "lte" | "nr" | "unknown";
  /** expectPlmn matches (true when none is expected). */
  readonly plmnOk: boolean;
  readonly signalDbm: number | null;
  /** AT+CSCB? shows every wanted channel accepted, for every DCS. */
  readonly subscriptionOk: boolean;
  readonly subscription: { readonly mode: number; readonly mids: string; readonly dcss: string } | null;
  readonly messageMode: "pdu" | "text" | null;
  readonly cnmi: string | null;
  readonly lastError: string | null;
}

export interface ModemDriverEvents {
  cbm(urc: CbmUrc): void;
  health(h: ModemHealth): void;
  fault(kind: ChannelFault, sample: string): void;
  /** The port went away or came back (a reconnect counts once it is initialised again). */
  link(up: boolean, reason: string): void;
}

const CNMI_SETTINGS = ["2,0,2,0,0", "2,1,2,2,0", "1,0,2,0,0"];
const RESET_URC = /^(RDY|\+CFUN: 1|\+CPIN: READY|\^SYSSTART)/;
/** URCs that need nothing from us (registration changes are read at the next health check). */
const BENIGN_URC =
  /^(\+C(E|5G)?REG:|PB DONE|SMS DONE|\+QIND:|\+QUSIM:|\+CTZ[VE]:|\+NITZ|\+CGEV:|RING|\+CRING:|\+CMTI:|\+CDSI:)/;
const MAX_TIMEOUTS = 3;

export class ModemDriver {
  private readonly link: SerialLink;
  private readonly channel: AtChannel;
  private readonly splitter: LineSplitter;
  private readonly channels: string;
  private timer: ReturnType<typeof setInterval> | undefined;
  private generation = 0;
  private busy = false;
  private timeouts = 0;
  private downReported = false;
  private initialised = false;
  private messageMode: "pdu" | "text" | null = null;
  private cnmi: string | null = null;
  private last: ModemHealth;

  constructor(
    private readonly o: ModemDriverOptions,
    private readonly events: ModemDriverEvents,
  ) {
    this.channels = o.channels ?? NL_SUBSCRIPTION;
    this.channel = new AtChannel(
      (t) => this.link.write(t),
      {
        cbm: (u) => events.cbm(u),
        urc: (l) => this.urc(l),
        fault: (k, s) => events.fault(k, s),
      },
      o.commandTimeoutMs ?? 5000,
    );
    this.splitter = new LineSplitter({
      line: (l) => this.channel.line(l),
      fault: (k, s) => this.channel.fault(k, s),
    });
    this.link = new SerialLink(
      {
        path: o.device,
        baudRate: o.baudRate ?? 115200,
        ...(o.reconnectMinMs !== undefined ? { reconnectMinMs: o.reconnectMinMs } : {}),
        ...(o.reconnectMaxMs !== undefined ? { reconnectMaxMs: o.reconnectMaxMs } : {}),
      },
      {
        open: () => this.opened(),
        data: (chunk) => this.splitter.push(chunk),
        down: (reason, retry) => this.down(reason, retry),
      },
    );
    this.last = emptyHealth(false);
  }

  /** The latest health snapshot. */
  get health(): ModemHealth {
    return this.last;
  }

  /** Where the modem is camped, for broadcast scopes. */
  location(): { plmn: string; area: string; cell: string } {
    const r = this.last.registration.eps?.registered ? this.last.registration.eps : this.last.registration.cs;
    return { plmn: this.last.plmn, area: r?.area ?? "", cell: r?.cell ?? "" };
  }

  start(): void {
    this.link.start();
    this.timer = setInterval(() => void this.tick(), this.o.healthIntervalMs ?? 60_000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.generation++;
    this.channel.close("stopped");
    await this.link.stop();
  }

  private opened(): void {
    this.o.logger.info({ device: this.o.device }, "modem port open: initialising");
    this.timeouts = 0;
    this.downReported = false;
    this.last = emptyHealth(true);
    this.events.link(true, "open");
    void this.tick();
  }

  private down(reason: string, retryInMs: number): void {
    this.generation++;
    this.splitter.reset();
    this.channel.reset(reason);
    this.initialised = false;
    this.busy = false;
    this.last = { ...emptyHealth(false), lastError: reason };
    this.o.logger.warn({ device: this.o.device, reason, retryInMs }, "modem port down: reconnecting");
    // Reported once per outage (the first failed open counts as one); the retries are only logged.
    if (!this.downReported) {
      this.downReported = true;
      this.events.link(false, reason);
      this.events.health(this.last);
    }
  }

  private urc(line: string): void {
    if (RESET_URC.test(line) && this.initialised) {
      // The modem restarted and forgot every non-persistent setting (nlalert.md §4.2).
      this.o.logger.warn({ device: this.o.device, urc: line }, "modem reset: initialising again");
      this.initialised = false;
      void this.tick();
      return;
    }
    if (RESET_URC.test(line) || BENIGN_URC.test(line)) return;
    this.events.fault("unexpected", JSON.stringify(line.slice(0, 80)));
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.link.isOpen) return;
    this.busy = true;
    const gen = this.generation;
    try {
      if (!this.initialised) await this.init(gen);
      if (this.initialised && gen === this.generation) await this.check(gen);
    } catch (e) {
      if (gen === this.generation) this.failed(e as Error);
    } finally {
      if (gen === this.generation) this.busy = false;
    }
  }

  private failed(e: Error): void {
    this.o.logger.warn({ device: this.o.device, err: e.message }, "modem command failed");
    this.last = { ...this.last, at: Date.now(), lastError: e.message };
    this.events.health(this.last);
    if (e.name === "AtTimeoutError" && ++this.timeouts >= MAX_TIMEOUTS) {
      this.timeouts = 0;
      this.link.reopen(`${MAX_TIMEOUTS} commands in a row unanswered`);
      return;
    }
    if (!this.initialised) {
      // Not receiving anything until initialised: retry sooner than the next health check.
      const gen = this.generation;
      setTimeout(() => {
        if (gen === this.generation) void this.tick();
      }, this.o.initRetryMs ?? 10_000).unref?.();
    }
  }

  private async at(cmd: string, timeoutMs?: number): Promise<string[]> {
    const lines = await this.channel.send(cmd, timeoutMs);
    this.timeouts = 0;
    return lines;
  }

  /** A command whose ERROR is acceptable: resolves false instead of throwing. */
  private async optional(cmd: string, timeoutMs?: number): Promise<boolean> {
    try {
      await this.at(cmd, timeoutMs);
      return true;
    } catch (e) {
      if (e instanceof AtCommandError) return false;
      throw e;
    }
  }

  private async firstOf(cmds: readonly string[]): Promise<string | null> {
    for (const c of cmds) if (await this.optional(c)) return c;
    return null;
  }

  private async init(gen: number): Promise<void> {
    const log = this.o.logger;
    // A modem mid-reset or with garbage in its buffer may miss the first AT.
    let synced = false;
    for (let i = 0; i < 3 && !synced; i++) {
      try {
        synced = await this.optional("AT", 2000);
      } catch {
        // timeout: try again
      }
    }
    if (!synced) throw Object.assign(new Error("no answer to AT"), { name: "AtTimeoutError" });
    await this.optional("ATE0");
    await this.optional("AT+CMEE=1");
    const mode = await this.firstOf(["AT+CMGF=0", "AT+CMGF=1"]);
    if (!mode) throw new Error("the modem refuses both PDU and text mode (AT+CMGF)");
    this.messageMode = mode === "AT+CMGF=0" ? "pdu" : "text";
    if (this.messageMode === "text") log.warn({ device: this.o.device }, "PDU mode refused: text mode");
    // Registration with location (for broadcast scopes), operator as MCC+MNC.
    await this.optional("AT+CREG=2");
    await this.optional("AT+CEREG=2");
    await this.optional("AT+COPS=3,2");
    if (this.o.pinPlmn && this.o.expectPlmn) {
      if (!(await this.optional(`AT+COPS=1,2,"${this.o.expectPlmn}"`, 180_000)))
        log.warn({ device: this.o.device, plmn: this.o.expectPlmn }, "could not pin the operator");
    }
    await this.subscribe();
    const sub = await this.readSubscription();
    if (!subscriptionOk(sub, this.channels))
      log.warn(
        { device: this.o.device, subscription: sub ?? null },
        "AT+CSCB? does not show the subscription",
      );
    // Where the modem is camped must be known before broadcasts flow: duplicates are judged per scope.
    const cs = await this.registration("CREG");
    const eps = await this.registration("CEREG");
    const cops = parseCops((await this.optionalLines("AT+COPS?")).find((l) => l.startsWith("+COPS:")) ?? "");
    this.last = { ...this.last, registration: { cs, eps }, plmn: cops?.numeric ? cops.operator : "" };
    const cnmi = await this.firstOf(CNMI_SETTINGS.map((s) => `AT+CNMI=${s}`));
    if (!cnmi) throw new Error("the modem refuses every AT+CNMI setting that routes broadcasts (bm=2)");
    this.cnmi = cnmi.slice("AT+CNMI=".length);
    if (gen !== this.generation) return;
    this.initialised = true;
    log.info({ device: this.o.device, mode: this.messageMode, cnmi: this.cnmi }, "modem initialised");
  }

  private async subscribe(): Promise<void> {
    // Qualcomm firmware rejects new ranges unless the list is cleared first, and only with
    // AT+CSCB=1 (oFono's note); other modems may answer ERROR, which does no harm.
    await this.optional("AT+CSCB=1");
    const list = this.channels;
    if (await this.optional(`AT+CSCB=0,"${list}",""`)) return;
    this.o.logger.warn({ device: this.o.device }, 'AT+CSCB with an empty DCS list refused: trying "0-255"');
    if (await this.optional(`AT+CSCB=0,"${list}","0-255"`)) return;
    this.o.logger.error({ device: this.o.device, channels: list }, "the modem refuses the CB subscription");
  }

  private async check(gen: number): Promise<void> {
    const cs = await this.registration("CREG");
    const eps = await this.registration("CEREG");
    const cops = parseCops((await this.optionalLines("AT+COPS?")).find((l) => l.startsWith("+COPS:")) ?? "");
    const csq = parseCsq((await this.optionalLines("AT+CSQ")).find((l) => l.startsWith("+CSQ:")) ?? "");
    let sub = await this.readSubscription();
    if (!subscriptionOk(sub, this.channels)) {
      this.o.logger.warn(
        { device: this.o.device, subscription: sub ?? null },
        "CB subscription not in place: subscribing again",
      );
      await this.subscribe();
      sub = await this.readSubscription();
    }
    if (gen !== this.generation) return;
    const plmn = cops?.numeric ? cops.operator : "";
    const act = eps?.registered ? (eps.act ?? cops?.act ?? 7) : (cs?.act ?? cops?.act ?? null);
    this.last = {
      at: Date.now(),
      connected: true,
      initialised: true,
      registered: (cs?.registered ?? false) || (eps?.registered ?? false),
      registration: { cs, eps },
      plmn,
      rat: ratOf(act),
      plmnOk: !this.o.expectPlmn || plmn === this.o.expectPlmn,
      signalDbm: csq?.dbm ?? null,
      subscriptionOk: subscriptionOk(sub, this.channels),
      subscription: sub ?? null,
      messageMode: this.messageMode,
      cnmi: this.cnmi,
      lastError: null,
    };
    this.events.health(this.last);
  }

  private async readSubscription(): Promise<ReturnType<typeof parseCscb>> {
    return parseCscb((await this.optionalLines("AT+CSCB?")).find((l) => l.startsWith("+CSCB:")) ?? "");
  }

  private async registration(name: "CREG" | "CEREG"): Promise<Registration | null> {
    const lines = await this.optionalLines(`AT+${name}?`);
    return parseRegistration(lines.find((l) => l.startsWith(`+${name}:`)) ?? "", name) ?? null;
  }

  private async optionalLines(cmd: string): Promise<string[]> {
    try {
      return await this.at(cmd);
    } catch (e) {
      if (e instanceof AtCommandError) return [];
      throw e;
    }
  }
}

/** Whether AT+CSCB? shows mode 0 with every wanted channel and no DCS left out. */
export function subscriptionOk(
  sub: { mode: number; mids: string; dcss: string } | undefined,
  wanted: string,
): boolean {
  if (sub?.mode !== 0) return false;
  if (missingChannels(wanted, sub.mids).length > 0) return false;
  return sub.dcss === "" || missingChannels("0-255", sub.dcss).length === 0;
}

function emptyHealth(connected: boolean): ModemHealth {
  return {
    at: Date.now(),
    connected,
    initialised: false,
    registered: false,
    registration: { cs: null, eps: null },
    plmn: "",
    rat: "unknown",
    plmnOk: false,
    signalDbm: null,
    subscriptionOk: false,
    subscription: null,
    messageMode: null,
    cnmi: null,
    lastError: null,
  };
}
