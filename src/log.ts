import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

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
    return pino(
      options,
      pretty({ destination: 2, sync: true, colorize: true, translateTime: "SYS:HH:MM:ss.l" }),
    );
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
