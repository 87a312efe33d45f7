import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * A secret is never written in a configuration: it names a file (first line) or an environment
 * variable that holds it.
 */
export const secretRef = z
  .object(
    {
      file: z.string().min(1, "the path of a file holding the secret").optional(),
      env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name in capitals, e.g. PROBE112_AGENT_SECRET")
        .optional(),
    },
    {
      error: (issue) =>
        issue.code === "invalid_type"
          ? "a secret is a reference, { file: PATH } or { env: NAME }, never the secret itself"
          : undefined,
    },
  )
  .strict()
  .refine((s) => (s.file === undefined) !== (s.env === undefined), {
    message: "give exactly one of `file` or `env`; secrets are never written in the configuration",
  });

export type SecretRef = z.infer<typeof secretRef>;

/** Thrown when a referenced secret cannot be read; the message names the reference, never the value. */
export class SecretError extends Error {
  override readonly name = "SecretError";
}

/** Reads a secret from its file (first line) or environment variable. */
export function readSecret(ref: SecretRef, where: string): string {
  if (ref.file !== undefined) {
    let first: string;
    try {
      first = readFileSync(ref.file, "utf8").split(/\r?\n/)[0] ?? "";
    } catch (e) {
      throw new SecretError(
        `${where}: cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    if (!first)
      throw new SecretError(`${where}: secret file ${ref.file} is empty: put the secret on its first line`);
    return first;
  }
  const value = process.env[ref.env ?? ""];
  if (!value) throw new SecretError(`${where}: environment variable ${ref.env} is not set or empty`);
  return value;
}
