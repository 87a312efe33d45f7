import { headerValue, type SipRequestView } from "../sip/sip-message.js";
import { uriOfNameAddr } from "../sip/sip-uri.js";
import { addressOf, normaliseNumber } from "./destinations.js";

/** How the caller ID received compares with what the agent declared for the path. */
export type CallerIdCheck = "match" | "mismatch" | "undeclared" | "absent";

export interface CallerIdResult {
  readonly check: CallerIdCheck;
  /** The caller ID as received: P-Asserted-Identity when present, else From. */
  readonly received: string | undefined;
  readonly source: "p-asserted-identity" | "from" | undefined;
  readonly declared: string | undefined;
}

/** Reads the caller ID of a request and compares it with the declared one (recorded, never enforced). */
export function checkCallerId(req: SipRequestView, declared: string | undefined): CallerIdResult {
  const pai = headerValue(req, "p-asserted-identity");
  const from = headerValue(req, "from");
  const source = pai ? "p-asserted-identity" : from ? "from" : undefined;
  const raw = pai ?? from;
  const received = raw ? addressOf(uriOfNameAddr(raw)) : undefined;
  if (!received || received === "anonymous") return { check: "absent", received, source, declared };
  if (declared === undefined) return { check: "undeclared", received, source, declared };
  const same = stripPlus(received) === stripPlus(normaliseNumber(declared));
  return { check: same ? "match" : "mismatch", received, source, declared };
}

function stripPlus(n: string): string {
  return n.startsWith("+") ? n.slice(1) : n;
}
