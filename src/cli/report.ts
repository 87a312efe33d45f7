import type { KeyObject } from "node:crypto";
import { accessSync, constants, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { readSecret, SecretError } from "../config/secrets.js";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { buildReport } from "../report/build-report.js";
import { parseInstant, validTimeZone } from "../report/format.js";
import { renderCsv } from "../report/render-csv.js";
import { renderHtml } from "../report/render-html.js";
import { publicKeyFromPem } from "../results/evidence.js";
import { EXIT, UsageError } from "./usage-error.js";

interface ReportArgs {
  from: string;
  to: string;
  prometheus: string;
  "prometheus-token-file"?: string;
  journal?: string[];
  key?: string[];
  users?: string[];
  provider?: string[];
  format: "html" | "csv" | "json";
  out?: string;
  timezone: string;
  title?: string;
  "national-test-grace": number;
  "chunk-hours": number;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

function parseUsers(list: readonly string[]): Map<string, number> {
  const users = new Map<string, number>();
  for (const item of list) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m) throw new UsageError("--users", `"${item}" is not PROVIDER=SUBSCRIBERS, e.g. kpn=5600000`);
    users.set(m[1]!, Number(m[2]));
  }
  return users;
}

function readKeys(files: readonly string[]): KeyObject[] {
  return files.map((f) => {
    try {
      return publicKeyFromPem(readFileSync(f, "utf8"));
    } catch (e) {
      throw new UsageError(
        "--key",
        `cannot use ${f} as a public key (a NAME.pub from 'probe112 keys generate'): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  });
}

function checkWritableDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(
      "--out",
      `cannot write into ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): create the directory or choose another`,
    );
  }
}

/** Progress on stderr: one rewritten line on a terminal, log lines otherwise. */
function progressReporter(args: ReportArgs) {
  const tty = process.stderr.isTTY === true;
  const logger = createLogger(args["log-level"] === "warn" ? "info" : args["log-level"], args["log-format"]);
  let phase = "";
  let last = 0;
  return {
    phase(p: string) {
      phase = p;
      if (tty) process.stderr.write(`\r\x1b[K${p}…`);
      else logger.info({ phase: p }, "report progress");
    },
    chunk(p: { selector: string; chunk: number; chunks: number }) {
      if (tty) {
        process.stderr.write(`\r\x1b[K${phase}: ${p.selector} ${p.chunk}/${p.chunks}`);
      } else if (p.chunks > 1 && Date.now() - last > 2000) {
        last = Date.now();
        logger.info({ phase, selector: p.selector, chunk: p.chunk, chunks: p.chunks }, "report progress");
      }
    },
    done() {
      if (tty) process.stderr.write("\r\x1b[K");
    },
  };
}

/** `probe112 report`: the compliance report over a period, from Prometheus and the journals. */
export function reportCommand(setExit: (code: number) => void): CommandModule<object, ReportArgs> {
  return {
    command: "report",
    describe:
      "Compliance report over a period: availability, SER/SEER/ISA, SRD, incidents, NL-Alert receipt and the integrity of the evidence",
    builder: (y: Argv) =>
      y
        .option("from", {
          type: "string",
          demandOption: true,
          describe:
            "Start: 2026-06-01 (midnight in --timezone), 2026-06-01T12:00, or with a zone (…Z, …+02:00)",
        })
        .option("to", { type: "string", demandOption: true, describe: "End, same forms as --from, or 'now'" })
        .option("prometheus", {
          type: "string",
          demandOption: true,
          describe: "Base URL of the Prometheus that scrapes the agents, e.g. http://prometheus:9090",
        })
        .option("prometheus-token-file", {
          type: "string",
          describe: "File whose first line is a bearer token for Prometheus (never on the command line)",
        })
        .option("journal", {
          type: "string",
          array: true,
          describe:
            "Agent or answering point journal file or directory (repeatable); checked and cross-matched",
        })
        .option("key", {
          type: "string",
          array: true,
          describe: "Public key (NAME.pub) of an instance whose journal is given (repeatable)",
        })
        .option("users", {
          type: "string",
          array: true,
          describe: "PROVIDER=SUBSCRIBERS for incident impact in user-hours (repeatable)",
        })
        .option("provider", { type: "string", array: true, describe: "Only these providers (repeatable)" })
        .option("format", {
          choices: ["html", "csv", "json"] as const,
          default: "html" as const,
          describe:
            "html: printable report with charts, for sign-off; csv: tables for a spreadsheet; json: the whole report model",
        })
        .option("out", {
          type: "string",
          describe:
            "Write here instead of stdout; csv also writes OUT-incidents.csv, OUT-national-tests.csv and OUT-journals.csv",
        })
        .option("timezone", {
          type: "string",
          default: "Europe/Amsterdam",
          describe: "Time zone of dates without one and of times in the HTML",
        })
        .option("title", { type: "string", describe: "Report title" })
        .option("national-test-grace", {
          type: "number",
          default: 15,
          describe: "Minutes after a national-test slot within which receipt counts as in time",
        })
        .option("chunk-hours", {
          type: "number",
          default: 24,
          describe:
            "Hours of samples per Prometheus query (lower it if Prometheus refuses for too many samples)",
        })
        .epilogue(
          "Exit codes: 0 complete report with intact evidence; 1 a journal is broken, Prometheus could not be read or answered with partial data, or the period has no data (the report is still written and says why); 2 usage.",
        )
        .example(
          "$0 report --from 2026-06-01 --to 2026-07-01 --prometheus http://prometheus:9090 --journal /var/lib/probe112/agent --key kpn-ams-1.pub --out june.html",
          "June's report for the regulator",
        ) as unknown as Argv<ReportArgs>,
    handler: async (args) => {
      for (const flag of ["from", "to", "prometheus", "out", "timezone", "title", "format"] as const)
        if (Array.isArray(args[flag])) throw new UsageError(`--${flag}`, "given more than once");
      if (!validTimeZone(args.timezone))
        throw new UsageError("--timezone", `unknown time zone "${args.timezone}"`);
      const now = new Date();
      const from = parseInstant(args.from, args.timezone, now);
      const to = parseInstant(args.to, args.timezone, now);
      if (!from)
        throw new UsageError("--from", `"${args.from}" is not a date: use 2026-06-01 or 2026-06-01T12:00`);
      if (!to)
        throw new UsageError("--to", `"${args.to}" is not a date: use 2026-07-01, 2026-07-01T12:00 or now`);
      if (to <= from) throw new UsageError("--to", "must be after --from");
      if (from >= now) throw new UsageError("--from", "is in the future: there is nothing to report yet");
      if (!/^https?:\/\/[^/\s]+/.test(args.prometheus))
        throw new UsageError("--prometheus", "a base URL such as http://127.0.0.1:9090");
      if (!(args["national-test-grace"] > 0))
        throw new UsageError("--national-test-grace", "minutes above zero");
      if (!(args["chunk-hours"] > 0)) throw new UsageError("--chunk-hours", "hours above zero");
      // Found now, not after minutes of queries.
      if (args.out) checkWritableDir(dirname(resolve(args.out)));
      const users = parseUsers(args.users ?? []);
      const keys = readKeys(args.key ?? []);
      let headers: Record<string, string> | undefined;
      if (args["prometheus-token-file"]) {
        try {
          headers = {
            authorization: `Bearer ${readSecret({ file: args["prometheus-token-file"] }, "--prometheus-token-file")}`,
          };
        } catch (e) {
          if (e instanceof SecretError) throw new UsageError("--prometheus-token-file", e.message);
          throw e;
        }
      }
      const progress = progressReporter(args);
      const model = await buildReport({
        prometheusUrl: args.prometheus,
        from,
        to: to > now ? now : to,
        journals: args.journal ?? [],
        keys,
        users,
        providers: args.provider ?? [],
        nationalTestGraceSeconds: args["national-test-grace"] * 60,
        title: args.title,
        chunkSeconds: args["chunk-hours"] * 3600,
        headers,
        onPhase: (p) => progress.phase(p),
        onProgress: (p) => progress.chunk(p),
      });
      progress.done();
      const write = (file: string | undefined, text: string) => {
        if (!file) process.stdout.write(text);
        else writeFileSync(file, text);
      };
      if (args.format === "json") write(args.out, `${JSON.stringify(model, null, 2)}\n`);
      else if (args.format === "html") write(args.out, renderHtml(model, args.timezone));
      else {
        const tables = renderCsv(model);
        write(args.out, tables.figures);
        if (args.out) {
          const stem = args.out.replace(/\.csv$/i, "");
          for (const name of ["incidents", "national-tests", "journals"] as const)
            writeFileSync(`${stem}-${name}.csv`, tables[name]);
        }
      }
      for (const p of model.problems) process.stderr.write(`probe112 report: ${p}\n`);
      const ok =
        model.evidenceIntact &&
        model.prometheus.ok &&
        model.prometheus.warnings.length === 0 &&
        model.groups.length > 0;
      setExit(ok ? EXIT.ok : EXIT.failed);
    },
  };
}
