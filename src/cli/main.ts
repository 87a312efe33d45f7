import yargs from "yargs";
import { LOG_LEVELS } from "../log.js";
import { agentCommand } from "./agent.js";
import { callCommand } from "./call.js";
import { cbCommand } from "./cb.js";
import { configCommand } from "./config.js";
import { demoCommand } from "./demo.js";
import { journalCommand, keysCommand } from "./journal.js";
import { reportCommand } from "./report.js";
import { responderCommand } from "./responder.js";
import { EXIT, UsageError } from "./usage-error.js";

const EPILOGUE = `Exit codes: 0 success, 1 the probe failed (e.g. a call not answered), 2 usage or configuration error.
Logs are pino JSON on stderr (pretty on a terminal); results go to stdout.
Documentation: README.md and docs/ in the probe112 repository.`;

/** Runs the probe112 command line and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const parser = yargs([...argv])
    .scriptName("probe112")
    .usage(
      "$0 <command> [options]\n\nContinuous end-to-end test calls to the 112 emergency chain over every provider path.",
    )
    .option("log-level", {
      choices: LOG_LEVELS,
      default: "warn" as const,
      describe: "Least severe log level written to stderr",
      global: true,
    })
    .option("log-format", {
      choices: ["auto", "json", "pretty"] as const,
      default: "auto" as const,
      describe: "Log format: pretty on a terminal, JSON otherwise (auto)",
      global: true,
    })
    .command(callCommand((code) => (exitCode = code)))
    .command(responderCommand((code) => (exitCode = code)))
    .command(agentCommand((code) => (exitCode = code)))
    .command(configCommand((code) => (exitCode = code)))
    .command(demoCommand((code) => (exitCode = code)))
    .command(cbCommand((code) => (exitCode = code)))
    .command(keysCommand((code) => (exitCode = code)))
    .command(journalCommand((code) => (exitCode = code)))
    .command(reportCommand((code) => (exitCode = code)))
    .demandCommand(1, "Name a command: see the list above.")
    .strict()
    .recommendCommands()
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err, y) => {
      // Errors thrown by handlers (UsageError included) are reported once, below.
      if (err) throw err;
      y.showHelp();
      process.stderr.write(
        `probe112: ${msg}\nRun 'probe112 --help' or 'probe112 <command> --help' for usage.\n`,
      );
      exitCode = EXIT.usage;
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`probe112: ${e.message}\nRun 'probe112 <command> --help' for usage.\n`);
      return EXIT.usage;
    }
    process.stderr.write(`probe112: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.failed;
  }
  return exitCode;
}
