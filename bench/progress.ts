const live = process.stderr.isTTY === true;
let pending = false;

/** Shows a progress line on stderr; on a terminal each line replaces the previous one. */
export function progress(line: string): void {
  if (live) {
    process.stderr.write(`\r\x1b[K${line}`);
    pending = true;
  } else {
    process.stderr.write(`${line}\n`);
  }
}

/** Writes a line on stderr that stays, after any progress line. */
export function note(line: string): void {
  if (pending) process.stderr.write("\r\x1b[K");
  pending = false;
  process.stderr.write(`${line}\n`);
}
