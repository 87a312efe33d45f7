/**
 * What a broadcast is, in the order nlalert.md §7.1 gives: test, exercise and operator channels
 * first, ETWS next, then the NL-Alert national test by its text, and everything else on an alert
 * channel is a real alert that a human must see.
 */

import { type BroadcastKind, kindOfChannel } from "./channels.js";
import { isNationalTestText } from "./national-test.js";

/** Classifies one broadcast by channel, ETWS warning type and text. */
export function classifyBroadcast(mid: number, text: string, etwsWarningType?: number): BroadcastKind {
  const byChannel = kindOfChannel(mid, etwsWarningType);
  if ((byChannel === "alert" || byChannel === "info" || byChannel === "other") && isNationalTestText(text))
    return "nl_test";
  return byChannel;
}
