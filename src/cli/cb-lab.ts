import type { Argv, CommandModule } from "yargs";
import { kindOfChannel } from "../cellbroadcast/channels.js";
import { runLabBroadcast } from "../cellbroadcast/lab-broadcast.js";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { renderLab } from "./render-cb.js";
import { EXIT, UsageError } from "./usage-error.js";

interface LabArgs {
  cbc: string;
  device: string[];
  channel: number;
  text: string;
  "message-code"?: number;
  language?: string;
  ucs2: boolean;
  repetition: number;
  wait: number;
  "ready-timeout": number;
  keep: boolean;
  "allow-alert-channel": boolean;
  baud: number;
  json: boolean;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

function positiveSeconds(flag: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    throw new UsageError(flag, `must be a number of seconds > 0, got ${String(v)}`);
  return v;
}

/** `probe112 cb lab`: a test broadcast through a lab CBC, timed at every modem. */
export function cbLabCommand(setExit: (code: number) => void): CommandModule<object, LabArgs> {
  return {
    command: "lab",
    describe:
      "Lab only: broadcast on a test channel through osmo-cbc's ECBE REST API and time its arrival at every modem",
    builder: (y: Argv) =>
      y
        .option("cbc", {
          type: "string",
          demandOption: true,
          describe: "The CBC's ECBE base URL, e.g. http://127.0.0.1:12345",
        })
        .option("device", {
          type: "string",
          array: true,
          demandOption: true,
          describe: "A modem's AT port (repeatable: every modem is timed)",
        })
        .option("channel", { type: "number", default: 4398, describe: "Channel (MID); 4398 is EU-Test" })
        .option("text", { type: "string", demandOption: true, describe: "The text to broadcast" })
        .option("message-code", { type: "number", describe: "Message code 0–1023 (random by default)" })
        .option("language", { type: "string", describe: "ISO 639-1 language for the DCS, e.g. nl" })
        .option("ucs2", { type: "boolean", default: false, describe: "Send UCS2 instead of GSM 7-bit" })
        .option("repetition", { type: "number", default: 5, describe: "Repetition period, 0–4095 s" })
        .option("wait", { type: "number", default: 300, describe: "Seconds to wait for every modem" })
        .option("ready-timeout", {
          type: "number",
          default: 60,
          describe: "Seconds the modems get to initialise",
        })
        .option("keep", {
          type: "boolean",
          default: false,
          describe: "Leave the broadcast on the CBC (no DELETE)",
        })
        .option("allow-alert-channel", {
          type: "boolean",
          default: false,
          describe: "Allow a live alert channel such as 4371 (shielded lab only)",
        })
        .option("baud", { type: "number", default: 115200, describe: "Baud rate of the modems" })
        .option("json", { type: "boolean", default: false, describe: "Print the result as JSON" })
        .example(
          '$0 cb lab --cbc http://127.0.0.1:12345 --device /dev/ttyUSB2 --device /dev/ttyUSB5 --text "probe112 lab test"',
          "Time a broadcast on 4398 at two modems",
        ) as unknown as Argv<LabArgs>,
    handler: async (args) => {
      let url: URL;
      try {
        url = new URL(args.cbc);
      } catch {
        throw new UsageError("--cbc", `not a URL: ${args.cbc} (example: http://127.0.0.1:12345)`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:")
        throw new UsageError("--cbc", `must be an http:// or https:// URL, got ${args.cbc}`);
      const ch = args.channel;
      if (!Number.isInteger(ch) || ch < 0 || ch > 65535)
        throw new UsageError("--channel", `must be a message identifier 0–65535, got ${String(ch)}`);
      if (kindOfChannel(ch) === "alert" && !args["allow-alert-channel"]) {
        throw new UsageError(
          "--channel",
          `${ch} is a live alert channel that phones show as a public warning: use a test channel such as 4398, or --allow-alert-channel in a shielded lab`,
        );
      }
      const code = args["message-code"];
      if (code !== undefined && (!Number.isInteger(code) || code < 0 || code > 1023))
        throw new UsageError("--message-code", `must be 0–1023, got ${String(code)}`);
      if (!Number.isInteger(args.repetition) || args.repetition < 0 || args.repetition > 4095)
        throw new UsageError("--repetition", `must be 0–4095 seconds, got ${String(args.repetition)}`);
      if (args.text.length === 0) throw new UsageError("--text", "must not be empty");
      if (args.language !== undefined && !/^[a-z]{2}$/.test(args.language))
        throw new UsageError("--language", `an ISO 639-1 code such as nl, got ${args.language}`);
      const devices = args.device.map(String);
      if (new Set(devices).size !== devices.length)
        throw new UsageError("--device", "a device is given twice");
      const wait = positiveSeconds("--wait", args.wait);
      const ready = positiveSeconds("--ready-timeout", args["ready-timeout"]);
      const logger = createLogger(args["log-level"], args["log-format"]);
      const result = await runLabBroadcast({
        cbc: args.cbc,
        devices,
        channel: ch,
        text: args.text,
        baudRate: args.baud,
        ...(code !== undefined ? { messageCode: code } : {}),
        ...(args.language ? { language: args.language } : {}),
        characterSet: args.ucs2 ? "ucs2" : "gsm",
        repetitionPeriod: args.repetition,
        waitMs: wait * 1000,
        readyTimeoutMs: ready * 1000,
        keep: args.keep,
        logger,
      });
      process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : renderLab(result));
      setExit(result.success ? EXIT.ok : EXIT.failed);
    },
  };
}
