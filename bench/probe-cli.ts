import { type ExitResult, spawnManaged } from "../test/support/process.js";
import type { Timings } from "./wire-timings.js";

/** The part of `probe112 call --json` output the benchmarks read. */
export interface CallJson {
  readonly outcome: string;
  readonly callId: string | null;
  readonly timings: Timings;
  readonly trace: ReadonlyArray<{
    readonly t: number;
    readonly direction: "sent" | "received";
    readonly method?: string;
    readonly status?: number;
    readonly cseqMethod?: string;
    readonly cseq?: number;
    readonly callId?: string;
    readonly retransmission: boolean;
    readonly dropped?: string;
  }>;
}

/** One finished `probe112 call` process. */
export interface CallRun {
  readonly exit: ExitResult;
  /** The parsed report, when stdout held one. */
  readonly json?: CallJson;
  /** Why there is no usable report, when there is none. */
  readonly error?: string;
}

/** Runs `command args…` to completion, killing it after `timeoutMs`. */
export async function runToEnd(command: string, args: string[], timeoutMs: number): Promise<ExitResult> {
  const proc = spawnManaged(command, args, { name: command });
  const timer = setTimeout(() => void proc.stop("SIGKILL", 0), timeoutMs);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a `--json` report from a finished call process. */
export function parseCallOutput(exit: ExitResult): CallRun {
  if (exit.signal) return { exit, error: `killed by ${exit.signal}` };
  try {
    const json = JSON.parse(exit.stdout) as CallJson;
    if (typeof json !== "object" || json === null || typeof json.timings !== "object")
      return { exit, error: "stdout is not a call report" };
    return { exit, json };
  } catch {
    const why = exit.stderr.trim().split("\n").slice(-3).join(" | ");
    return { exit, error: `exit ${exit.code}, no JSON on stdout${why ? `: ${why}` : ""}` };
  }
}
