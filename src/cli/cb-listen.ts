import type { Argv, CommandModule } from "yargs";
import { modemSchema } from "../config/modem-config.js";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { CellBroadcastProbe } from "../probes/cell-broadcast-probe.js";
import { untilStopped } from "./agent.js";
import { renderCellBroadcastResult } from "./render-cb.js";
import { EXIT, UsageError } from "./usage-error.js";

interface ListenArgs {
  device: string;
  baud: number;
  channels?: string;
  operator: string;
  region: string;
  "health-interval": number;
  json: boolean;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

/** `probe112 cb listen --device PATH`: print broadcasts as they arrive, with health lines. */
export function cbListenCommand(setExit: (code: number) => void): CommandModule<object, ListenArgs> {
  return {
    command: "listen",
    describe: "Listen on a modem and print cell broadcasts as they arrive, with health lines (Ctrl-C ends)",
    builder: (y: Argv) =>
      y
        .option("device", {
          type: "string",
          demandOption: true,
          describe: "The modem's AT port, e.g. /dev/ttyUSB2",
        })
        .option("baud", { type: "number", default: 115200, describe: "Baud rate" })
        .option("channels", {
          type: "string",
          describe: 'Channels to subscribe to (default the NL list "919,4352-4356,4370-4400,6400")',
        })
        .option("operator", {
          type: "string",
          default: "unknown",
          describe: "Operator label in --json output",
        })
        .option("region", { type: "string", default: "unknown", describe: "Region label in --json output" })
        .option("health-interval", { type: "number", default: 60, describe: "Seconds between health checks" })
        .option("json", {
          type: "boolean",
          default: false,
          describe: "One JSON result per line (the agent's result model) instead of text",
        })
        .example(
          "$0 cb listen --device /dev/ttyUSB2",
          "Watch a modem for NL-Alert",
        ) as unknown as Argv<ListenArgs>,
    handler: async (args) => {
      const parsed = modemSchema.safeParse({
        id: "listen",
        device: args.device,
        operator: args.operator,
        region: args.region,
        baudRate: args.baud,
        healthInterval: args["health-interval"],
        ...(args.channels !== undefined ? { channels: args.channels } : {}),
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const flag =
          { baudRate: "--baud", healthInterval: "--health-interval" }[String(issue.path[0])] ??
          `--${String(issue.path[0])}`;
        throw new UsageError(flag, issue.message);
      }
      const logger = createLogger(args["log-level"], args["log-format"]);
      const probe = new CellBroadcastProbe(parsed.data, { agent: "cli", logger });
      probe.start((r) => {
        process.stdout.write(args.json ? `${JSON.stringify(r)}\n` : renderCellBroadcastResult(r));
      });
      if (!args.json) process.stderr.write(`listening on ${args.device}; Ctrl-C ends\n`);
      await untilStopped();
      await probe.stop();
      setExit(EXIT.ok);
    },
  };
}
