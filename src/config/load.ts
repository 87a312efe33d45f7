import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { z } from "zod";

/** One problem in a configuration, at a path such as `responder.listen[1]`. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A configuration that cannot be used; every command exits 2 on it, naming each problem. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s) in the configuration`);
  }

  /** One line per problem: file, path, what is wrong and what is expected. */
  describe(): string {
    return this.problems.map((p) => `${this.file}: ${p.path || "(top level)"}: ${p.message}`).join("\n");
  }
}

/** Renders a zod issue path as `a.b[2].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join("");
}

/** Turns zod issues into problems with paths and the fix each message names. */
export function problemsOf(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      const keys = (issue as { keys: string[] }).keys;
      return {
        path,
        message: `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}: remove it or check the spelling`,
      };
    }
    if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) {
      return { path, message: "missing: this key is required" };
    }
    return { path, message: issue.message };
  });
}

/** Validates plain data against a schema; throws ConfigError naming every problem. */
export function validateConfig<T>(data: unknown, schema: z.ZodType<T>, file: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ConfigError(file, problemsOf(parsed.error));
  return parsed.data;
}

/** Reads a YAML file and validates it; throws ConfigError for unreadable files, bad YAML or bad values. */
export function loadConfigFile<T>(file: string, schema: z.ZodType<T>): T {
  return validateConfig(readConfigFile(file), schema, file);
}

/** Reads a YAML file into plain data, unvalidated (to merge command-line flags in first). */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [
      {
        path: "",
        message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      },
    ]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "",
        message: `not valid YAML: ${e.message.split("\n")[0]}`,
      })),
    );
  }
  return doc.toJS();
}
