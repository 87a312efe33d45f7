import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal } from "../../src/results/journal.js";

describe("Journal", () => {
  it("appends one JSON object per line, in order, into a file per UTC day", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-journal-"));
    const j = new Journal(dir, "responder");
    await Promise.all([
      j.append("test_call", { n: 1 }, new Date("2026-11-28T23:59:59.900Z")),
      j.append("test_call", { n: 2 }, new Date("2026-11-28T23:59:59.950Z")),
      j.append("rejected", { n: 3 }, new Date("2026-11-29T00:00:00.100Z")),
    ]);
    await j.close();
    expect(readdirSync(dir).sort()).toEqual(["responder-2026-11-28.jsonl", "responder-2026-11-29.jsonl"]);
    const day1 = readFileSync(join(dir, "responder-2026-11-28.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(day1).toEqual([
      { time: "2026-11-28T23:59:59.900Z", type: "test_call", n: 1 },
      { time: "2026-11-28T23:59:59.950Z", type: "test_call", n: 2 },
    ]);
  });

  it("keeps appending to an existing day file across restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-journal-"));
    const at = new Date("2026-01-01T00:00:00Z");
    const a = new Journal(dir, "x");
    await a.append("t", { n: 1 }, at);
    await a.close();
    const b = new Journal(dir, "x");
    await b.append("t", { n: 2 }, at);
    await b.close();
    expect(readFileSync(join(dir, "x-2026-01-01.jsonl"), "utf8").trimEnd().split("\n")).toHaveLength(2);
  });
});
