import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { Argv, CommandModule } from "yargs";
import { z } from "zod";
import { agentConfigSchema, expandChecks } from "../config/agent-config.js";
import { ConfigError, type ConfigProblem, loadConfigFile } from "../config/load.js";
import { responderConfigSchema } from "../config/responder-config.js";
import { readSecret, type SecretRef } from "../config/secrets.js";
import { EXIT } from "./usage-error.js";

type Kind = "agent" | "responder";

interface ConfigArgs {
  file?: string;
  kind?: Kind;
  secrets: boolean;
}

/** The kind of a configuration file from its top-level key. */
function kindOf(file: string): Kind | undefined {
  try {
    const top = parseDocument(readFileSync(file, "utf8")).toJS() as Record<string, unknown> | null;
    if (top && "responder" in top) return "responder";
    if (top && "agent" in top) return "agent";
  } catch {
    // loadConfigFile reports unreadable files and bad YAML with their details.
  }
  return undefined;
}

/** Every secret reference in a configuration, with its path. */
function secretRefs(value: unknown, path: string): Array<{ path: string; ref: SecretRef }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => secretRefs(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length > 0 && keys.every((k) => k === "file" || k === "env"))
    return [{ path, ref: o as SecretRef }];
  return keys.flatMap((k) => secretRefs(o[k], path ? `${path}.${k}` : k));
}

/** The JSON Schema of a configuration kind, for editors. */
export function jsonSchemaOf(kind: Kind): unknown {
  return z.toJSONSchema(kind === "agent" ? agentConfigSchema : responderConfigSchema, {
    io: "input",
    unrepresentable: "any",
  });
}

/** `probe112 config check|schema`: validate a configuration, or print the JSON Schema. */
export function configCommand(setExit: (code: number) => void): CommandModule<object, ConfigArgs> {
  return {
    command: "config <action> [file]",
    describe:
      "Check a configuration file (every problem with its path and the fix), or print its JSON Schema",
    builder: (y: Argv) =>
      y
        .positional("action", {
          choices: ["check", "schema"] as const,
          describe: "check FILE, or schema --kind agent|responder",
        })
        .positional("file", { type: "string", describe: "The YAML file to check" })
        .option("kind", {
          choices: ["agent", "responder"] as const,
          describe: "What the file configures (default: from its top-level key)",
        })
        .option("secrets", {
          type: "boolean",
          default: true,
          describe: "Also check that every secret file is readable and every secret variable is set",
        })
        .example("$0 config check /etc/probe112/agent.yaml", "Validate an agent configuration")
        .example(
          "$0 config schema --kind agent > agent.schema.json",
          "JSON Schema for editors",
        ) as unknown as Argv<ConfigArgs>,
    handler: (args) => {
      const action = (args as unknown as { action: string }).action;
      if (action === "schema") {
        process.stdout.write(`${JSON.stringify(jsonSchemaOf(args.kind ?? "agent"), null, 2)}\n`);
        setExit(EXIT.ok);
        return;
      }
      if (!args.file) {
        process.stderr.write("probe112 config check: name the FILE to check\n");
        setExit(EXIT.usage);
        return;
      }
      const kind = args.kind ?? kindOf(args.file) ?? "agent";
      try {
        const parsed =
          kind === "agent"
            ? loadConfigFile(args.file, agentConfigSchema)
            : loadConfigFile(args.file, responderConfigSchema);
        const problems: ConfigProblem[] = [];
        if (args.secrets) {
          for (const { path, ref } of secretRefs(parsed, "")) {
            try {
              readSecret(ref, path);
            } catch (e) {
              problems.push({ path, message: (e as Error).message.replace(`${path}: `, "") });
            }
          }
        }
        if (problems.length > 0) throw new ConfigError(args.file, problems);
        const summary =
          "agent" in parsed
            ? `${expandChecks(parsed).length} checks`
            : `${parsed.responder.listen.length} listeners`;
        process.stdout.write(`${args.file}: OK (${kind}, ${summary})\n`);
        setExit(EXIT.ok);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        process.stderr.write(`${e.describe()}\n`);
        setExit(EXIT.usage);
      }
    },
  };
}
