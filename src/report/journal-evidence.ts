import type { KeyObject } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { keyIdOf, readSeal } from "../results/evidence.js";
import {
  type JournalRecord,
  type MatchReport,
  matchJournals,
  readJournalRecords,
} from "../results/journal-match.js";
import { verifyPath } from "../results/journal-verify.js";
import type { JournalIntegrity } from "./model.js";

/** What the journals given to the report say: their integrity and the cross-confirmation. */
export interface JournalEvidence {
  readonly journals: JournalIntegrity[];
  readonly crossConfirmation: MatchReport | null;
  readonly problems: string[];
  /** Journal paths given but unreadable or holding no journal: evidence asked for and missing. */
  readonly missing: number;
}

/** A receipt is looked for this long after the end of the range (the call started inside it). */
const RECEIPT_SLACK_SECONDS = 120;

const within = (iso: unknown, from: number, to: number) => {
  const t = typeof iso === "string" ? Date.parse(iso) / 1000 : Number.NaN;
  return t > from && t <= to;
};

/**
 * Verifies every journal at `paths` (files or directories) against the given public keys, and
 * joins the agents' calls in (from, to] with the answering points' receipts.
 */
export function journalEvidence(
  paths: readonly string[],
  keys: readonly KeyObject[],
  from: number,
  to: number,
): JournalEvidence {
  const journals: JournalIntegrity[] = [];
  const problems: string[] = [];
  const agent: JournalRecord[] = [];
  const responder: JournalRecord[] = [];
  const keyIds = new Map(keys.map((k) => [keyIdOf(k), k]));
  let missing = 0;
  for (const path of paths) {
    let reports: ReturnType<typeof verifyPath>;
    try {
      reports = verifyPath(path, keys);
    } catch (e) {
      problems.push(
        `journal ${path} could not be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): nothing from it is in this report`,
      );
      missing++;
      continue;
    }
    if (reports.length === 0) {
      problems.push(`no journal files (NAME-YYYY-MM-DD.jsonl) found at ${path} or below it`);
      missing++;
    }
    for (const r of reports) {
      const kid = firstKeyId(r.files);
      journals.push({ ...r, path, keyId: kid && keyIds.has(kid) ? kid : null });
    }
    const { records, unreadable } = readJournalRecords(path);
    if (unreadable > 0) problems.push(`${unreadable} line(s) of the journal at ${path} are not JSON`);
    for (const rec of records) {
      if (rec.type === "result" && rec.kind === "sip_call" && within(rec.startedAt, from, to))
        agent.push(rec);
      if (rec.type === "test_call" && within(rec.receivedAt, from, to + RECEIPT_SLACK_SECONDS))
        responder.push(rec);
    }
  }
  let crossConfirmation: MatchReport | null = null;
  if (paths.length > 0) {
    if (agent.length === 0)
      problems.push("no agent test calls in the journals for this range: nothing to confirm");
    else if (responder.length === 0)
      problems.push(
        "no answering-point journal for this range: answered calls could not be confirmed from the far end",
      );
    else crossConfirmation = matchJournals(agent, responder);
  }
  if (paths.length > 0 && keys.length === 0)
    problems.push("no --key given: the journals' hash chains were checked, their signatures were not");
  return { journals, crossConfirmation, problems, missing };
}

/** The key id on the first line of a journal (read from the head of the file only). */
function firstKeyId(files: readonly string[]): string | null {
  const file = files[0];
  if (!file) return null;
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(64 * 1024);
    const n = readSync(fd, head, 0, head.length, 0);
    const line = head.subarray(0, n).toString("utf8").split("\n")[0] ?? "";
    return readSeal(line)?.kid ?? null;
  } finally {
    closeSync(fd);
  }
}
