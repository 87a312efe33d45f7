import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import pino from "pino";
import { runTestCall, type TestCallOptions, type TestCallResult } from "../../src/sip/test-call.js";
import { spawnManaged } from "./process.js";

/** The built CLI; test/support/global-build.ts compiles it once per test run. */
export const CLI = findCli(resolve(import.meta.dirname, "../.."));

/** bin/probe112.js at or above `dir`: the benchmarks run this file compiled, from bench/build/test/support/. */
function findCli(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "bin/probe112.js"))) return join(d, "bin/probe112.js");
    if (dirname(d) === d) return join(dir, "bin/probe112.js");
  }
}

/** A logger for tests: silent unless P112_TEST_LOG names a level. */
export const testLogger = pino({ level: process.env.P112_TEST_LOG ?? "silent" }, pino.destination(2));

/**
 * Runs one test call in-process with test defaults: short hold and timeouts, and no media check
 * (these are signalling tests; media tests ask for `media` explicitly).
 */
export function call(target: string, opts: Partial<TestCallOptions> = {}): Promise<TestCallResult> {
  return runTestCall({
    target,
    transport: "udp",
    media: "none",
    holdSeconds: 0.2,
    ringTimeoutSeconds: 10,
    timeoutSeconds: 15,
    logger: testLogger,
    ...opts,
  });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The parsed --json output, when the run printed one. */
  json: TestCallResult | undefined;
}

/**
 * Runs the probe112 CLI (optionally inside a network namespace) and collects its output. A
 * `call` without --media gets `--media none`: most callers test signalling against peers that
 * do not return media; media tests pass --media themselves.
 */
export async function runCli(
  args: string[],
  opts: { netns?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  const withMedia = args[0] === "call" && !args.includes("--media") ? [...args, "--media", "none"] : args;
  const argv = [CLI, ...withMedia];
  const proc = opts.netns
    ? spawnManaged("ip", ["netns", "exec", opts.netns, process.execPath, ...argv], {
        name: "probe112",
        env: opts.env,
      })
    : spawnManaged(process.execPath, argv, { name: "probe112", env: opts.env });
  const r = await proc.exited;
  let json: TestCallResult | undefined;
  if (args.includes("--json")) {
    try {
      json = JSON.parse(r.stdout) as TestCallResult;
    } catch {
      json = undefined;
    }
  }
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, json };
}

/** Start lines of a call's trace in one direction, in order, retransmissions flagged. */
export function traceLines(r: TestCallResult, direction?: "sent" | "received"): string[] {
  return r.trace
    .filter((e) => !direction || e.direction === direction)
    .map(
      (e) =>
        `${e.direction === "sent" ? ">" : "<"} ${e.method ?? e.summary}${e.retransmission ? " (resent)" : ""}${e.dropped ? " (dropped)" : ""}`,
    );
}
