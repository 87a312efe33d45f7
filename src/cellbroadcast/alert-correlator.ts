/**
 * Grouping of copies into logical alerts. One NL-Alert goes out on 4371 and on the legacy 919,
 * and may go out again on an additional-language channel: copies with the same normalised text,
 * or on twin channels with the same message code, within a time window are one alert.
 */

import { createHash } from "node:crypto";
import { primaryChannel } from "./channels.js";

/** How far apart copies of one alert may arrive (nlalert.md §7.1: ±10 min). */
export const CORRELATION_WINDOW_MS = 10 * 60 * 1000;

/** Text reduced to what identifies an alert: Unicode-normalised, case and whitespace folded. */
export function normaliseText(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/** A stable id for an alert text (not a secret, not a label: it goes in the journal). */
export function alertIdOf(text: string): string {
  return createHash("sha256").update(normaliseText(text)).digest("hex").slice(0, 16);
}

export interface AlertCopy {
  readonly messageIdentifier: number;
  readonly messageCode: number;
  readonly text: string;
  readonly at: number;
}

export interface LogicalAlertMatch {
  readonly alertId: string;
  /** True for the first copy of this alert seen here. */
  readonly first: boolean;
  readonly firstSeenAt: number;
  /** Channels the alert has been seen on so far, this copy included. */
  readonly channels: readonly number[];
}

interface LogicalAlert {
  readonly alertId: string;
  readonly firstSeenAt: number;
  readonly texts: Set<string>;
  readonly codes: Set<string>;
  readonly channels: Set<number>;
  lastSeenAt: number;
}

export class AlertCorrelator {
  private alerts: LogicalAlert[] = [];

  constructor(private readonly windowMs = CORRELATION_WINDOW_MS) {}

  /** Places a copy in its logical alert, opening a new one when none matches. */
  match(c: AlertCopy): LogicalAlertMatch {
    this.alerts = this.alerts.filter((a) => c.at - a.lastSeenAt <= this.windowMs);
    const text = normaliseText(c.text);
    const code = `${primaryChannel(c.messageIdentifier)}/${c.messageCode}`;
    const found = this.alerts.find(
      (a) =>
        c.at - a.firstSeenAt <= this.windowMs &&
        ((text !== "" && a.texts.has(text)) || (a.codes.has(code) && !a.channels.has(c.messageIdentifier))),
    );
    if (found) {
      found.texts.add(text);
      found.codes.add(code);
      found.channels.add(c.messageIdentifier);
      found.lastSeenAt = c.at;
      return {
        alertId: found.alertId,
        first: false,
        firstSeenAt: found.firstSeenAt,
        channels: [...found.channels],
      };
    }
    const alert: LogicalAlert = {
      alertId: alertIdOf(c.text === "" ? `${code}@${c.at}` : c.text),
      firstSeenAt: c.at,
      texts: new Set(text === "" ? [] : [text]),
      codes: new Set([code]),
      channels: new Set([c.messageIdentifier]),
      lastSeenAt: c.at,
    };
    this.alerts.push(alert);
    return { alertId: alert.alertId, first: true, firstSeenAt: c.at, channels: [c.messageIdentifier] };
  }
}
