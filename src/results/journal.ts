import { mkdirSync, readdirSync, statSync } from "node:fs";
import { type FileHandle, open, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { GENESIS, lineHash, readSeal, type SigningKey, sealLine } from "./evidence.js";

/** The journal files of one prefix in a directory, oldest first (names sort by day). */
export function journalFiles(dir: string, prefix: string): string[] {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d{4}-\\d{2}-\\d{2}\\.jsonl$`);
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => join(dir, f));
}

const DAILY_FILE = /-\d{4}-\d{2}-\d{2}\.jsonl$/;

/**
 * Every daily journal file at `path`: the file itself, or those in the directory and below it (a
 * data directory keeps each instance's journal in its own subdirectory), sorted by path.
 */
export function findJournalFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((e) => {
      const p = join(path, e.name);
      if (e.isDirectory()) return findJournalFiles(p);
      return e.isFile() && DAILY_FILE.test(e.name) ? [p] : [];
    })
    .sort();
}

/**
 * An append-only JSON Lines journal in daily files (`<prefix>-YYYY-MM-DD.jsonl`, UTC), hash-chained
 * and, with a key, signed line by line (see evidence.ts). Each record is written whole and flushed
 * to disk before `append` resolves, so a crash loses at most the record being written. A restart
 * continues the chain from the last line on disk; a torn last line (a crash mid-write) is cut off
 * and the cut is itself recorded.
 */
export class Journal {
  private file: { day: string; handle: FileHandle } | undefined;
  private chain: Promise<void> = Promise.resolve();
  private tail: { seq: number; hash: string } | undefined;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly key?: SigningKey,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  }

  /** Appends one record (with its time) and resolves once it is on disk. */
  append(type: string, record: Record<string, unknown>, now = new Date()): Promise<void> {
    const write = this.chain.then(() =>
      this.write({ time: now.toISOString(), type, ...record }, now.toISOString().slice(0, 10)),
    );
    this.chain = write.catch(() => {});
    return write;
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.chain;
    await this.file?.handle.close();
    this.file = undefined;
  }

  /** Finds where the chain stands on disk, cutting a torn last line off. */
  private async resume(): Promise<{ seq: number; hash: string; cut: number }> {
    const files = journalFiles(this.dir, this.prefix);
    const last = files[files.length - 1];
    if (!last) return { seq: 0, hash: GENESIS, cut: 0 };
    const text = await readFile(last, "utf8");
    let cut = 0;
    let whole = text;
    if (text.length > 0 && !text.endsWith("\n")) {
      whole = text.slice(0, text.lastIndexOf("\n") + 1);
      cut = Buffer.byteLength(text) - Buffer.byteLength(whole);
      await truncate(last, Buffer.byteLength(whole));
    }
    const lines = whole.split("\n").filter((l) => l.length > 0);
    const lastLine = lines[lines.length - 1];
    if (!lastLine) return { seq: 0, hash: GENESIS, cut };
    return { seq: readSeal(lastLine)?.seq ?? lines.length, hash: lineHash(lastLine), cut };
  }

  private async write(record: Record<string, unknown>, day: string): Promise<void> {
    if (!this.tail) {
      const r = await this.resume();
      this.tail = { seq: r.seq, hash: r.hash };
      if (r.cut > 0) {
        // Say that bytes were lost, in the chain itself, before anything new is written.
        await this.write({ time: record.time, type: "journal_recovered", truncatedBytes: r.cut }, day);
      }
    }
    if (this.file?.day !== day) {
      await this.file?.handle.close();
      this.file = { day, handle: await open(join(this.dir, `${this.prefix}-${day}.jsonl`), "a", 0o640) };
    }
    const line = sealLine(record, this.tail.seq + 1, this.tail.hash, this.key);
    const handle = this.file.handle;
    const bytes = Buffer.from(`${line}\n`);
    const { size } = await handle.stat();
    try {
      // A short write (a full disk) must not leave half a line for the next record to join.
      for (let off = 0; off < bytes.length; ) off += (await handle.write(bytes, off)).bytesWritten;
      await handle.datasync();
    } catch (e) {
      await handle.truncate(size).catch(() => {});
      throw e;
    }
    this.tail = { seq: this.tail.seq + 1, hash: lineHash(line) };
  }
}
