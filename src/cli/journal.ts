import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { publicKeyFromPem } from "../results/evidence.js";
import { type MatchReport, matchJournals, readJournalRecords } from "../results/journal-match.js";
import { type VerifyReport, verifyPath } from "../results/journal-verify.js";
import { generateJournalKeys, publicKeyId } from "../results/keys.js";
import { EXIT, UsageError } from "./usage-error.js";

interface KeysArgs {
  out: string;
  name: string;
}

/** `probe112 keys generate`: an Ed25519 key pair for signing journals. */
export function keysCommand(setExit: (code: number) => void): CommandModule<object, KeysArgs> {
  return {
    command: "keys generate",
    describe:
      "Create an Ed25519 key pair for signing journals: NAME.key stays here, NAME.pub goes to the verifier",
    builder: (y: Argv) =>
      y
        .option("out", {
          type: "string",
          demandOption: true,
          describe: "Directory for the key files (created, mode 0700)",
        })
        .option("name", {
          type: "string",
          default: "probe112",
          describe: "File name stem: NAME.key and NAME.pub",
        })
        .example(
          "$0 keys generate --out /etc/probe112/keys --name kpn-ams-1",
          "Keys for one agent",
        ) as unknown as Argv<KeysArgs>,
    handler: (args) => {
      if (!/^[A-Za-z0-9._-]+$/.test(args.name))
        throw new UsageError("--name", "letters, digits, '.', '_' and '-' only");
      try {
        const k = generateJournalKeys(args.out, args.name);
        process.stdout.write(
          `private key ${k.privateKeyFile} (mode 0600: keep it on this host)\npublic key  ${k.publicKeyFile} (hand this to whoever verifies)\nkey id      ${k.keyId}\n`,
        );
        setExit(EXIT.ok);
      } catch (e) {
        process.stderr.write(`probe112 keys generate: ${(e as Error).message}\n`);
        setExit(EXIT.failed);
      }
    },
  };
}

interface JournalArgs {
  action: "verify" | "match";
  paths?: string[];
  key?: string[];
  agent?: string[];
  responder?: string[];
  json: boolean;
}

function readPublicKey(file: string): KeyObject {
  try {
    return publicKeyFromPem(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(
      "--key",
      `cannot use ${file} as a public key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Problems listed per journal in text; the first one is what matters, --json has them all. */
const SHOWN_PROBLEMS = 10;

function renderVerify(reports: readonly VerifyReport[]): string {
  const out: string[] = [];
  for (const r of reports) {
    out.push(
      `${r.ok ? "INTACT" : "BROKEN"}  journal ${r.journal}: ${r.records} records in ${r.files.length} file(s), ${r.signed} signed`,
    );
    if (r.problems.length > SHOWN_PROBLEMS)
      out.push(`  (first ${SHOWN_PROBLEMS} of ${r.problems.length} problems; --json lists all)`);
    for (const p of r.problems.slice(0, SHOWN_PROBLEMS)) {
      out.push(
        `  ${p.kind.padEnd(11)} ${basename(p.file)}:${p.line}${p.seq !== undefined ? ` (record ${p.seq})` : ""}: ${p.detail}`,
      );
    }
    for (const n of r.notes) out.push(`  note        ${n}`);
  }
  return `${out.join("\n")}\n`;
}

function renderMatch(m: MatchReport): string {
  const lines = [
    `${m.confirmed} of ${m.expectedAtResponder} answered calls confirmed by the answering point`,
    `${m.answeredWithoutReceipt.length} answered without a receipt (something else answered in its name)`,
    ...m.answeredWithoutReceipt.map((c) => `  ${c.startedAt}  ${c.check}  token ${c.token}`),
    `${m.receiptsWithoutAgent.length} receipts without an agent record`,
    ...m.receiptsWithoutAgent.map(
      (r) => `  ${r.receivedAt}  ${r.agent}/${r.path}  from ${r.source}  token ${r.token ?? "—"}`,
    ),
    `${m.callerIdMismatches.length} caller-ID mismatches`,
    ...m.callerIdMismatches.map(
      (r) =>
        `  ${r.receivedAt}  ${r.agent}/${r.path}  received ${r.received ?? "—"}, declared ${r.declared ?? "—"}`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

/** `probe112 journal verify|match`: integrity of journals, and agent ↔ answering point cross-confirmation. */
export function journalCommand(setExit: (code: number) => void): CommandModule<object, JournalArgs> {
  return {
    command: "journal <action> [paths..]",
    describe:
      "verify: check journals for edited, removed, inserted or reordered records; match: join agent and answering point journals",
    builder: (y: Argv) =>
      y
        .positional("action", { choices: ["verify", "match"] as const })
        .positional("paths", {
          type: "string",
          array: true,
          describe: "verify: journal files or directories",
        })
        .option("key", {
          type: "string",
          array: true,
          describe:
            "verify: public key (NAME.pub) of the instance that wrote the journal; repeat for several instances, each journal is checked with the key it names",
        })
        .option("agent", {
          type: "string",
          array: true,
          describe: "match: agent journal files or directories (repeatable)",
        })
        .option("responder", {
          type: "string",
          array: true,
          describe: "match: answering point journal files or directories (repeatable)",
        })
        .option("json", { type: "boolean", default: false, describe: "One JSON document instead of text" })
        .epilogue(
          "Exit codes: verify 0 intact, 1 broken evidence; match 0 all confirmed, 1 findings; 2 usage.",
        )
        .example(
          "$0 journal verify /var/lib/probe112/agent --key kpn-ams-1.pub",
          "Check a directory of journals",
        )
        .example(
          "$0 journal match --agent agent/ --responder responder/",
          "Calls answered without a receipt, and the reverse",
        ) as unknown as Argv<JournalArgs>,
    handler: (args) => {
      if (args.action === "verify") {
        if (!args.paths?.length)
          throw new UsageError("<paths>", "name at least one journal file or directory");
        const keyFiles = args.key ?? [];
        const keys = keyFiles.map(readPublicKey);
        const reports = args.paths.flatMap((p) => {
          try {
            return verifyPath(p, keys.length > 0 ? keys : undefined);
          } catch (e) {
            throw new UsageError(
              "<paths>",
              `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            );
          }
        });
        if (reports.length === 0)
          throw new UsageError("<paths>", "no journal files (NAME-YYYY-MM-DD.jsonl) found there");
        process.stdout.write(
          args.json
            ? `${JSON.stringify({ keyIds: keyFiles.map((k) => publicKeyId(readFileSync(k, "utf8"))), journals: reports }, null, 2)}\n`
            : renderVerify(reports),
        );
        setExit(reports.every((r) => r.ok) ? EXIT.ok : EXIT.failed);
        return;
      }
      if (!args.agent?.length || !args.responder?.length) {
        throw new UsageError(
          args.agent?.length ? "--responder" : "--agent",
          "match needs --agent and --responder journals",
        );
      }
      const read = (paths: string[], flag: string) =>
        paths.flatMap((p) => {
          try {
            return readJournalRecords(p).records;
          } catch (e) {
            throw new UsageError(
              flag,
              `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            );
          }
        });
      const m = matchJournals(read(args.agent, "--agent"), read(args.responder, "--responder"));
      process.stdout.write(args.json ? `${JSON.stringify(m, null, 2)}\n` : renderMatch(m));
      const clean =
        m.answeredWithoutReceipt.length === 0 &&
        m.receiptsWithoutAgent.length === 0 &&
        m.callerIdMismatches.length === 0;
      setExit(clean ? EXIT.ok : EXIT.failed);
    },
  };
}
