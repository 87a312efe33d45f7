/**
 * The cell-broadcast channels (message identifiers) that matter in the Netherlands and what a
 * message on each one is: the NL-Alert map of TS 23.041 §9.4.1.2.2, ETSI TS 102 900 and the
 * Android mcc204 configuration.
 */

/** The subscription every modem gets: NL-Alert, its legacy channel, ETWS, the whole CMAS/EU-Alert block, EU-Info. */
export const NL_SUBSCRIPTION = "919,4352-4356,4370-4400,6400";

/** The live NL-Alert channel. */
export const NL_ALERT_MID = 4371;
/** The legacy 3-digit channel that carries a copy of every NL-Alert for old phones. */
export const LEGACY_NL_ALERT_MID = 919;

/** What a broadcast is; a bounded set, used as a metric label. */
export type BroadcastKind =
  | "alert"
  | "nl_test"
  | "test"
  | "exercise"
  | "operator"
  | "etws"
  | "etws_test"
  | "geofence"
  | "info"
  | "other";

export const BROADCAST_KINDS: readonly BroadcastKind[] = [
  "alert",
  "nl_test",
  "test",
  "exercise",
  "operator",
  "etws",
  "etws_test",
  "geofence",
  "info",
  "other",
];

/** Whether a MID is in the ETWS block (TS 23.041: 4352–4359). */
export function isEtwsMid(mid: number): boolean {
  return (mid & 0xfff8) === 0x1100;
}

/** Test, exercise and operator-defined MIDs, with and without "additional language". */
const NON_ALERT_MIDS: ReadonlyMap<number, BroadcastKind> = new Map([
  [4380, "test"],
  [4393, "test"],
  [4381, "exercise"],
  [4394, "exercise"],
  [4382, "operator"],
  [4395, "operator"],
  [4398, "test"],
  [4399, "test"],
]);

/** The kind a channel implies before the text is read (the national test needs the text). */
export function kindOfChannel(mid: number, etwsWarningType?: number): BroadcastKind {
  const fixed = NON_ALERT_MIDS.get(mid);
  if (fixed) return fixed;
  if (mid === 4355 || etwsWarningType === 3) return "etws_test";
  if (isEtwsMid(mid)) return "etws";
  if (mid === 4400) return "geofence";
  if (mid === 6400) return "info";
  if (mid === LEGACY_NL_ALERT_MID || (mid >= 4370 && mid <= 4379) || (mid >= 4383 && mid <= 4392))
    return "alert";
  if (mid === 4396 || mid === 4397) return "alert";
  return "other";
}

/**
 * The channel a copy belongs with: 919 is the legacy twin of 4371, and 4383–4395 (4397, 4399)
 * carry the "additional language" version of 4370–4382 (4396, 4398).
 */
export function primaryChannel(mid: number): number {
  if (mid === LEGACY_NL_ALERT_MID) return NL_ALERT_MID;
  if (mid >= 4383 && mid <= 4395) return mid - 13;
  if (mid === 4397 || mid === 4399) return mid - 1;
  return mid;
}

/** A short name for a channel, for people. */
export function channelName(mid: number): string {
  if (mid === NL_ALERT_MID) return "NL-Alert";
  if (mid === LEGACY_NL_ALERT_MID) return "NL-Alert (legacy)";
  if (mid === 4370) return "EU-Alert level 1 / Presidential";
  if (mid >= 4372 && mid <= 4379) return mid === 4379 ? "EU-Amber" : "EU-Alert";
  if (mid >= 4383 && mid <= 4395) return `${channelName(mid - 13)} (additional language)`;
  if (mid === 4380) return "Required Monthly Test";
  if (mid === 4381) return "Exercise";
  if (mid === 4382) return "Operator defined";
  if (mid === 4396 || mid === 4397) return "EU-Alert level 4 / Public Safety";
  if (mid === 4398 || mid === 4399) return "EU-Test / State-Local test";
  if (mid === 4400) return "Geo-fencing trigger";
  if (mid === 6400) return "EU-Info";
  if (mid === 4355) return "ETWS test";
  if (isEtwsMid(mid)) return "ETWS";
  return "other";
}

/** Parses a list such as "919,4352-4356,4370-4400" into a sorted list of [from, to] ranges. */
export function parseChannelList(list: string): Array<[number, number]> | undefined {
  const ranges: Array<[number, number]> = [];
  const text = list.trim();
  if (text === "") return ranges;
  for (const part of text.split(",")) {
    const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > 65535 || to > 65535 || to < from) return undefined;
    ranges.push([from, to]);
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}

/** Every channel of a list, expanded (for lists of bounded size such as NL_SUBSCRIPTION). */
export function expandChannelList(list: string): number[] {
  const out: number[] = [];
  for (const [from, to] of parseChannelList(list) ?? []) for (let m = from; m <= to; m++) out.push(m);
  return out;
}

/** The channels of `wanted` that `have` lacks. */
export function missingChannels(wanted: string, have: string): number[] {
  const ranges = parseChannelList(have) ?? [];
  return expandChannelList(wanted).filter((m) => !ranges.some(([a, b]) => m >= a && m <= b));
}

/** More channels than this are not given labels of their own (a diagnostic "0-65535" subscription). */
const MAX_LABELLED_CHANNELS = 256;

/** The channels that get their own metric label: the subscription, or the NL list when it is huge. */
export function labelledChannels(list: string): ReadonlySet<number> {
  const all = expandChannelList(list);
  return new Set(all.length <= MAX_LABELLED_CHANNELS ? all : expandChannelList(NL_SUBSCRIPTION));
}

/** The metric label of a MID: the MID for labelled channels, "other" for anything else, so it stays bounded. */
export function midLabel(mid: number, labelled: ReadonlySet<number>): string {
  return labelled.has(mid) ? String(mid) : "other";
}
