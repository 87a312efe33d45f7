import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { DECODE_ERROR_REASONS } from "../cellbroadcast/cbs-pdu.js";
import { BROADCAST_KINDS, labelledChannels, midLabel, NL_SUBSCRIPTION } from "../cellbroadcast/channels.js";
import type { CellBroadcastResult } from "../results/result.js";

/** Delivery latency buckets (seconds): the Dutch requirement is 3 minutes (nlalert.md §5.1). */
const LATENCY_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 180, 300, 600, 1800];

const LINE_FAULTS = ["binary", "overlong", "half_line", "missing_pdu", "stray_result", "unexpected"] as const;

const MODEM_LABELS = ["modem", "operator", "region"] as const;
type ModemLabel = (typeof MODEM_LABELS)[number];

/** The modem a series belongs to. */
export interface ModemLabels {
  readonly id: string;
  readonly operator: string;
  readonly region: string;
  /** The modem's subscription; the NL list when absent. */
  readonly channels?: string;
}

const NL_CHANNELS = labelledChannels(NL_SUBSCRIPTION);

/**
 * Every cell-broadcast metric (prefix probe112_cb_), registered beside the agent's own. Serial
 * numbers and texts never become labels: a logical alert shows only as its kind and first-seen
 * time, which is what cross-operator delay needs:
 *   probe112_cb_alert_first_seen_timestamp_seconds
 *     - ignoring(modem, operator, region) group_left
 *       min without(modem, operator, region)(probe112_cb_alert_first_seen_timestamp_seconds)
 */
export class CellBroadcastMetrics {
  private readonly pages: Counter<ModemLabel | "mid">;
  private readonly duplicatePages: Counter<ModemLabel | "mid">;
  private readonly duplicateMessages: Counter<ModemLabel | "mid">;
  private readonly broadcasts: Counter<ModemLabel | "mid">;
  private readonly incomplete: Counter<ModemLabel | "mid">;
  private readonly alerts: Counter<ModemLabel | "kind">;
  private readonly decodeErrors: Counter<ModemLabel | "reason">;
  private readonly lineFaults: Counter<ModemLabel | "kind">;
  private readonly lastBroadcast: Gauge<ModemLabel | "kind">;
  private readonly firstSeen: Gauge<ModemLabel | "kind">;
  private readonly latency: Histogram<ModemLabel | "reference">;
  private readonly connected: Gauge<ModemLabel>;
  private readonly initialised: Gauge<ModemLabel>;
  private readonly registered: Gauge<ModemLabel>;
  private readonly subscription: Gauge<ModemLabel>;
  private readonly plmnOk: Gauge<ModemLabel>;
  private readonly signal: Gauge<ModemLabel>;
  private readonly receiverInfo: Gauge<ModemLabel | "plmn" | "rat" | "mode">;
  private readonly lastHealth: Gauge<ModemLabel>;
  private readonly disconnects: Counter<ModemLabel>;
  private readonly nationalTestMissed: Gauge<ModemLabel>;
  /** Each modem's subscribed channels: the values its mid label takes. */
  private readonly channels = new Map<string, ReadonlySet<number>>();
  /** The info series each modem has, so the old one can go when the network changes. */
  private readonly infoLabels = new Map<string, Record<string, string>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const l = [...MODEM_LABELS];
    this.pages = new Counter({
      name: "probe112_cb_pages_total",
      help: "Cell-broadcast pages received, repetitions included, by channel (MID; other = outside the subscription).",
      labelNames: [...l, "mid"],
      registers,
    });
    this.duplicatePages = new Counter({
      name: "probe112_cb_duplicate_pages_total",
      help: "Pages of a message already held or already delivered (the network repeats broadcasts; modem-dependent).",
      labelNames: [...l, "mid"],
      registers,
    });
    this.duplicateMessages = new Counter({
      name: "probe112_cb_duplicate_messages_total",
      help: "Whole messages received again within 24 h in the same scope, counted and not reported again.",
      labelNames: [...l, "mid"],
      registers,
    });
    this.broadcasts = new Counter({
      name: "probe112_cb_broadcasts_total",
      help: "Broadcasts received complete, each copy once, by channel (MID).",
      labelNames: [...l, "mid"],
      registers,
    });
    this.incomplete = new Counter({
      name: "probe112_cb_incomplete_total",
      help: "Broadcasts given up with pages missing after the assembly timeout, by channel (MID).",
      labelNames: [...l, "mid"],
      registers,
    });
    this.alerts = new Counter({
      name: "probe112_cb_alerts_total",
      help: "Logical alerts (copies on 919, 4371 and language channels counted once), by kind.",
      labelNames: [...l, "kind"],
      registers,
    });
    this.decodeErrors = new Counter({
      name: "probe112_cb_decode_errors_total",
      help: "PDUs that could not be decoded (hex, format, dcs) or whose length disagreed with the +CBM line (length).",
      labelNames: [...l, "reason"],
      registers,
    });
    this.lineFaults = new Counter({
      name: "probe112_cb_line_faults_total",
      help: "Noise on the modem's serial line: binary, overlong or half lines, a +CBM without its PDU, stray results, unexpected lines.",
      labelNames: [...l, "kind"],
      registers,
    });
    this.lastBroadcast = new Gauge({
      name: "probe112_cb_last_broadcast_timestamp_seconds",
      help: "Unix time of the last broadcast received, by kind; absent until one arrives.",
      labelNames: [...l, "kind"],
      registers,
    });
    this.firstSeen = new Gauge({
      name: "probe112_cb_alert_first_seen_timestamp_seconds",
      help: "Unix time this receiver first saw the latest logical alert of a kind; compare across operators for their delay.",
      labelNames: [...l, "kind"],
      registers,
    });
    this.latency = new Histogram({
      name: "probe112_cb_delivery_latency_seconds",
      help: "First page received after a reference: the scheduled national-test slot (schedule) or the time in an NL-Alert text (text_time, minute resolution).",
      labelNames: [...l, "reference"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.connected = new Gauge({
      name: "probe112_cb_receiver_connected",
      help: "1 while the modem's serial port is open.",
      labelNames: l,
      registers,
    });
    this.initialised = new Gauge({
      name: "probe112_cb_receiver_initialised",
      help: "1 while the modem is set up to pass broadcasts on (message mode, subscription, AT+CNMI).",
      labelNames: l,
      registers,
    });
    this.registered = new Gauge({
      name: "probe112_cb_receiver_registered",
      help: "1 while the modem is registered on a network (home or roaming, CS or EPS).",
      labelNames: l,
      registers,
    });
    this.subscription = new Gauge({
      name: "probe112_cb_receiver_subscription_verified",
      help: "1 when AT+CSCB? showed every wanted channel accepted at the last health check.",
      labelNames: l,
      registers,
    });
    this.plmnOk = new Gauge({
      name: "probe112_cb_receiver_plmn_expected",
      help: "1 when the modem is on the expected PLMN (or none is configured).",
      labelNames: l,
      registers,
    });
    this.signal = new Gauge({
      name: "probe112_cb_receiver_signal_dbm",
      help: "Received signal strength from AT+CSQ, in dBm; absent when the modem does not know.",
      labelNames: l,
      registers,
    });
    this.receiverInfo = new Gauge({
      name: "probe112_cb_receiver_info",
      help: "The network the modem is on (PLMN, radio access technology) and its message mode (pdu, text); always 1.",
      labelNames: [...l, "plmn", "rat", "mode"],
      registers,
    });
    this.lastHealth = new Gauge({
      name: "probe112_cb_receiver_last_health_check_timestamp_seconds",
      help: "Unix time of the last completed health check.",
      labelNames: l,
      registers,
    });
    this.disconnects = new Counter({
      name: "probe112_cb_receiver_disconnects_total",
      help: "Outages of the modem's serial port: it went away or could not be opened (the receiver retries by itself).",
      labelNames: l,
      registers,
    });
    this.nationalTestMissed = new Gauge({
      name: "probe112_cb_national_test_missed",
      help: "1 when the last scheduled NL-Alert national test was not received within its grace period; silence at other times never sets it.",
      labelNames: l,
      registers,
    });
  }

  /** Declares the configured modems: every series exists from the start, zero. */
  declareModems(modems: readonly ModemLabels[]): void {
    for (const g of [this.connected, this.initialised, this.registered, this.subscription, this.plmnOk])
      g.reset();
    for (const g of [this.signal, this.receiverInfo, this.lastHealth, this.nationalTestMissed]) g.reset();
    this.infoLabels.clear();
    this.channels.clear();
    for (const m of modems) {
      const l = { modem: m.id, operator: m.operator, region: m.region };
      const subscribed = m.channels ? labelledChannels(m.channels) : NL_CHANNELS;
      this.channels.set(m.id, subscribed);
      const mids = [...subscribed].map(String).concat("other");
      for (const mid of mids) {
        for (const c of [
          this.pages,
          this.duplicatePages,
          this.duplicateMessages,
          this.broadcasts,
          this.incomplete,
        ])
          c.inc({ ...l, mid }, 0);
      }
      for (const kind of BROADCAST_KINDS) this.alerts.inc({ ...l, kind }, 0);
      for (const reason of DECODE_ERROR_REASONS) this.decodeErrors.inc({ ...l, reason }, 0);
      for (const kind of LINE_FAULTS) this.lineFaults.inc({ ...l, kind }, 0);
      this.disconnects.inc(l, 0);
      for (const g of [this.connected, this.initialised, this.registered, this.subscription, this.plmnOk])
        g.set(l, 0);
      this.nationalTestMissed.set(l, 0);
    }
  }

  /** Maps one result to every metric it feeds. */
  record(r: CellBroadcastResult): void {
    const l = { modem: r.modem, operator: r.operator, region: r.region };
    const add = (c: Counter<ModemLabel | "mid">, counts: Readonly<Record<string, number>>) => {
      for (const [mid, n] of Object.entries(counts)) if (n > 0) c.inc({ ...l, mid }, n);
    };
    add(this.pages, r.counts.pages);
    add(this.duplicatePages, r.counts.duplicatePages);
    add(this.duplicateMessages, r.counts.duplicateMessages);
    for (const [reason, n] of Object.entries(r.counts.decodeErrors))
      if (n > 0) this.decodeErrors.inc({ ...l, reason }, n);
    for (const [kind, n] of Object.entries(r.counts.lineFaults))
      if (n > 0) this.lineFaults.inc({ ...l, kind }, n);
    switch (r.event) {
      case "broadcast": {
        const b = r.broadcast;
        const mid = midLabel(b.messageIdentifier, this.channels.get(r.modem) ?? NL_CHANNELS);
        if (b.status === "incomplete") {
          this.incomplete.inc({ ...l, mid });
          return;
        }
        this.broadcasts.inc({ ...l, mid });
        this.lastBroadcast.set({ ...l, kind: b.kind }, Date.parse(b.lastPageAt) / 1000);
        if (b.firstCopy) {
          this.alerts.inc({ ...l, kind: b.kind });
          this.firstSeen.set({ ...l, kind: b.kind }, Date.parse(b.alertFirstSeenAt) / 1000);
          if (b.latency.schedule !== null && b.latency.schedule >= 0)
            this.latency.observe({ ...l, reference: "schedule" }, b.latency.schedule);
          if (b.latency.textTime !== null && b.latency.textTime >= 0)
            this.latency.observe({ ...l, reference: "text_time" }, b.latency.textTime);
        }
        return;
      }
      case "health": {
        const h = r.health;
        this.connected.set(l, h.connected ? 1 : 0);
        this.initialised.set(l, h.initialised ? 1 : 0);
        if (!h.initialised) return;
        this.registered.set(l, h.registered ? 1 : 0);
        this.subscription.set(l, h.subscriptionOk ? 1 : 0);
        this.plmnOk.set(l, h.plmnOk ? 1 : 0);
        if (h.signalDbm === null) this.signal.remove(l);
        else this.signal.set(l, h.signalDbm);
        const info = { ...l, plmn: h.plmn || "unknown", rat: h.rat, mode: h.messageMode ?? "unknown" };
        const before = this.infoLabels.get(r.modem);
        if (before) this.receiverInfo.remove(before);
        this.receiverInfo.set(info, 1);
        this.infoLabels.set(r.modem, info);
        this.lastHealth.set(l, h.at / 1000);
        return;
      }
      case "link":
        this.connected.set(l, r.link.up ? 1 : 0);
        if (!r.link.up) {
          this.disconnects.inc(l);
          this.initialised.set(l, 0);
          this.registered.set(l, 0);
        }
        return;
      case "national_test":
        this.nationalTestMissed.set(l, r.nationalTest.received ? 0 : 1);
        return;
    }
  }
}
