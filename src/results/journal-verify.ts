import type { KeyObject } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { GENESIS, keyIdOf, lineHash, readSeal, signatureValid } from "./evidence.js";
import { findJournalFiles } from "./journal.js";

/** What can be wrong with a journal. */
export type ProblemKind =
  | "unparseable"
  | "edited"
  | "removed"
  | "inserted"
  | "reordered"
  | "unsigned"
  | "unknown_key";

export interface JournalProblem {
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  readonly seq: number | undefined;
  readonly kind: ProblemKind;
  readonly detail: string;
}

export interface VerifyReport {
  /** The journal's name: the file prefix (agent, responder, …). */
  readonly journal: string;
  readonly files: readonly string[];
  readonly records: number;
  readonly signed: number;
  readonly ok: boolean;
  readonly problems: readonly JournalProblem[];
  /** Not tampering, but worth knowing: a torn line cut after a crash, no key to check against. */
  readonly notes: readonly string[];
}

const MAX_PROBLEMS = 100;

interface Line {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

function linesOf(files: readonly string[]): Line[] {
  return files.flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .map((text, i) => ({ file, line: i + 1, text }))
      .filter((l) => l.text.length > 0),
  );
}

/**
 * Verifies one journal (its daily files in order): every line parses, sequence numbers run on
 * without gaps or repeats, each line holds the hash of the one before, and with a public key every
 * signature is valid. Names the first record that was edited, removed, inserted or reordered.
 */
export function verifyJournal(
  journal: string,
  files: readonly string[],
  publicKey?: KeyObject,
  /** False when only part of the journal is given (one day file): it may start mid-chain. */
  fromStart = true,
): VerifyReport {
  const lines = linesOf(files);
  const problems: JournalProblem[] = [];
  const notes: string[] = [];
  const keyId = publicKey ? keyIdOf(publicKey) : undefined;
  const seqs = lines.map((l) => readSeal(l.text)?.seq);
  const seen = new Set<number>();
  let expected: number | undefined;
  let prevHash: string | undefined;
  let signed = 0;
  const add = (l: Line, seq: number | undefined, kind: ProblemKind, detail: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ file: l.file, line: l.line, seq, kind, detail });
  };
  lines.forEach((l, i) => {
    const seal = readSeal(l.text);
    if (!seal) {
      add(l, undefined, "unparseable", "not a sealed journal line (changed, or not written by probe112)");
      prevHash = lineHash(l.text);
      return;
    }
    if (seal.signed) signed++;
    if (publicKey) {
      if (!seal.signed)
        add(
          l,
          seal.seq,
          "unsigned",
          "no signature on a journal checked against a key: inserted or rewritten",
        );
      else if (seal.kid !== keyId)
        add(l, seal.seq, "unknown_key", `signed with key ${seal.kid}, not ${keyId}`);
      else if (!signatureValid(seal, publicKey))
        add(l, seal.seq, "edited", "signature does not match the line: its content was changed");
    }
    if (seal.record.type === "journal_recovered") {
      notes.push(
        `${basename(l.file)}:${l.line}: ${String(seal.record.truncatedBytes)} bytes of a torn last line were cut after a crash`,
      );
    }
    if (expected === undefined) {
      if (!fromStart && (seal.seq !== 1 || seal.prev !== GENESIS)) {
        notes.push(
          `${basename(l.file)} continues the chain at record ${seal.seq}: earlier files were not checked`,
        );
      } else if (seal.seq !== 1 || seal.prev !== GENESIS) {
        add(
          l,
          seal.seq,
          "removed",
          `the journal starts at record ${seal.seq}: records before it (or whole earlier files) are missing`,
        );
      }
    } else if (seal.seq === expected) {
      if (seal.prev !== prevHash) {
        const before = lines[i - 1];
        add(
          l,
          seal.seq,
          "edited",
          `the line before (${before ? `${basename(before.file)}:${before.line}` : "?"}) is not the one this record chained to: it was changed or replaced`,
        );
      }
    } else if (seal.seq > expected) {
      const reordered = seqs.slice(i + 1).includes(expected);
      add(
        l,
        seal.seq,
        reordered ? "reordered" : "removed",
        reordered
          ? `record ${seal.seq} comes before record ${expected}`
          : seal.seq - 1 > expected
            ? `records ${expected}–${seal.seq - 1} are missing`
            : `record ${expected} is missing`,
      );
    } else {
      // A number already seen is a copy slipped in; one not yet seen is a record moved down.
      if (seen.has(seal.seq)) add(l, seal.seq, "inserted", `record ${seal.seq} appears a second time`);
      else add(l, seal.seq, "reordered", `record ${seal.seq} comes after later records`);
    }
    seen.add(seal.seq);
    expected = Math.max(expected ?? 0, seal.seq + 1);
    prevHash = lineHash(l.text);
  });
  if (!publicKey) notes.push("no public key given: the hash chain was checked, the signatures were not");
  return { journal, files, records: lines.length, signed, ok: problems.length === 0, problems, notes };
}

/** The key among `keys` that signed the first signed line of `files`; the first key when none did. */
function keyFor(files: readonly string[], keys: readonly KeyObject[]): KeyObject | undefined {
  if (keys.length <= 1) return keys[0];
  const ids = new Map(keys.map((k) => [keyIdOf(k), k]));
  for (const f of files) {
    for (const text of readFileSync(f, "utf8").split("\n")) {
      const kid = readSeal(text)?.kid;
      if (kid && ids.has(kid)) return ids.get(kid);
      if (kid) return keys[0];
    }
  }
  return keys[0];
}

/**
 * Verifies a journal file or a directory of them; files are grouped into journals by their
 * prefix (`agent-2026-11-28.jsonl` → "agent"), each checked as one chain. With several keys, each
 * journal is checked against the one whose id it names (a journal naming none of them fails).
 */
export function verifyPath(path: string, publicKey?: KeyObject | readonly KeyObject[]): VerifyReport[] {
  const isDir = statSync(path).isDirectory();
  const groups = new Map<string, string[]>();
  for (const f of findJournalFiles(path)) {
    // One chain per directory and prefix: the same prefix in two subdirectories is two journals.
    const prefix = basename(f).replace(/-\d{4}-\d{2}-\d{2}\.jsonl$/, "");
    const name = isDir ? join(relative(path, dirname(f)), prefix) : prefix;
    groups.set(name, [...(groups.get(name) ?? []), f]);
  }
  const keys = publicKey === undefined ? [] : Array.isArray(publicKey) ? publicKey : [publicKey as KeyObject];
  return [...groups].map(([name, list]) => verifyJournal(name, list, keyFor(list, keys), isDir));
}
