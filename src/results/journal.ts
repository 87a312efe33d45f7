import { mkdirSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";

/**
 * An append-only JSON Lines journal in daily files (`<prefix>-YYYY-MM-DD.jsonl`, UTC). Each record
 * is written whole and flushed to disk before `append` resolves, so a crash loses at most the
 * record being written and never leaves half a line behind another.
 */
export class Journal {
  private file: { day: string; handle: FileHandle } | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  }

  /** Appends one record (with its time) and resolves once it is on disk. */
  append(type: string, record: Record<string, unknown>, now = new Date()): Promise<void> {
    const line = `${JSON.stringify({ time: now.toISOString(), type, ...record })}\n`;
    const write = this.chain.then(() => this.write(line, now.toISOString().slice(0, 10)));
    this.chain = write.catch(() => {});
    return write;
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.chain;
    await this.file?.handle.close();
    this.file = undefined;
  }

  private async write(line: string, day: string): Promise<void> {
    if (this.file?.day !== day) {
      await this.file?.handle.close();
      this.file = { day, handle: await open(join(this.dir, `${this.prefix}-${day}.jsonl`), "a", 0o640) };
    }
    const handle = this.file.handle;
    const bytes = Buffer.from(line);
    const { size } = await handle.stat();
    try {
      // A short write (a full disk) must not leave half a line for the next record to join.
      for (let off = 0; off < bytes.length; ) off += (await handle.write(bytes, off)).bytesWritten;
      await handle.datasync();
    } catch (e) {
      await handle.truncate(size).catch(() => {});
      throw e;
    }
  }
}
