import { createRequire } from "node:module";
import pino, { type Logger } from "pino";

const require = createRequire(import.meta.url);

export type LogFormat = "json" | "pretty" | "auto";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The process logger: pino JSON on stderr, pretty when stderr is a terminal (or when asked).
 * Secrets never reach it: credentials are redacted wherever they might appear.
 */
export function createLogger(level: LogLevel = "info", format: LogFormat = "auto"): Logger {
  const usePretty = format === "pretty" || (format === "auto" && process.stderr.isTTY === true);
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: ["password", "*.password", "credentials", "*.credentials", "authorization"],
      censor: "[redacted]",
    },
  };
  if (usePretty) {
    // Loaded only for a terminal: every other run would pay its start-up time for nothing.
    const pretty = require("pino-pretty") as typeof import("pino-pretty");
    return pino(
      options,
      pretty({ destination: 2, sync: true, colorize: true, translateTime: "SYS:HH:MM:ss.l" }),
    );
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
