import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENESIS, lineHash } from "../../src/results/evidence.js";
import { Journal } from "../../src/results/journal.js";
import { verifyPath } from "../../src/results/journal-verify.js";

const lines = (f: string) => readFileSync(f, "utf8").trimEnd().split("\n");

describe("Journal", () => {
  it("appends one JSON object per line, in order, into a file per UTC day, chained across days", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-journal-"));
    const j = new Journal(dir, "responder");
    await Promise.all([
      j.append("test_call", { n: 1 }, new Date("2026-11-28T23:59:59.900Z")),
      j.append("test_call", { n: 2 }, new Date("2026-11-28T23:59:59.950Z")),
      j.append("rejected", { n: 3 }, new Date("2026-11-29T00:00:00.100Z")),
    ]);
    await j.close();
    expect(readdirSync(dir).sort()).toEqual(["responder-2026-11-28.jsonl", "responder-2026-11-29.jsonl"]);
    const day1 = lines(join(dir, "responder-2026-11-28.jsonl"));
    const day2 = lines(join(dir, "responder-2026-11-29.jsonl"));
    expect(day1.map((l) => JSON.parse(l))).toEqual([
      { seq: 1, prev: GENESIS, time: "2026-11-28T23:59:59.900Z", type: "test_call", n: 1 },
      { seq: 2, prev: lineHash(day1[0]!), time: "2026-11-28T23:59:59.950Z", type: "test_call", n: 2 },
    ]);
    expect(JSON.parse(day2[0]!)).toMatchObject({ seq: 3, prev: lineHash(day1[1]!), n: 3 });
    expect(verifyPath(dir)[0]).toMatchObject({ ok: true, records: 3, signed: 0 });
  });

  it("continues the chain after a restart, and cuts and records a torn last line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-journal-"));
    const at = new Date("2026-01-01T00:00:00Z");
    const a = new Journal(dir, "x");
    await a.append("t", { n: 1 }, at);
    await a.close();
    // A crash in the middle of a write leaves half a line behind.
    appendFileSync(join(dir, "x-2026-01-01.jsonl"), '{"seq":2,"prev":"ab');
    const b = new Journal(dir, "x");
    await b.append("t", { n: 2 }, at);
    await b.close();
    const got = lines(join(dir, "x-2026-01-01.jsonl")).map((l) => JSON.parse(l));
    expect(got.map((r) => [r.seq, r.type])).toEqual([
      [1, "t"],
      [2, "journal_recovered"],
      [3, "t"],
    ]);
    expect(got[1].truncatedBytes).toBe(Buffer.byteLength('{"seq":2,"prev":"ab'));
    const report = verifyPath(dir)[0]!;
    expect(report.ok).toBe(true);
    expect(report.notes.join()).toMatch(/bytes of a torn last line were cut/);
  });

  it("refuses nothing it cannot read: a foreign line is reported, not fatal", () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-journal-"));
    writeFileSync(join(dir, "y-2026-01-01.jsonl"), "not json\n");
    expect(verifyPath(dir)[0]!.problems[0]).toMatchObject({ kind: "unparseable", line: 1 });
  });
});
