/** A mistake in how the command was called: exit code 2, and a message naming the flag. */
export class UsageError extends Error {
  override readonly name = "UsageError";

  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
