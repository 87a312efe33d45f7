import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./call.js";
import { type ExitResult, type ManagedProcess, parseLogLines, run, spawnManaged, tail } from "./process.js";

/** One listener as the responder reports it in its "answering point ready" line. */
export interface ResponderListener {
  protocol: "udp" | "tcp" | "tls";
  address: string;
  port: number;
}

/** Options for {@link startResponder}. */
export interface ResponderStartOptions {
  /** Arguments after `probe112 responder` (listeners, access, limits...). */
  args: string[];
  /** Give the responder a fresh journal directory (`--journal-dir`), removed by `stop()`. */
  journal?: boolean;
  /** Least severe log level; default info, which the ready line needs. */
  logLevel?: "debug" | "info";
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Run inside this network namespace (HTTP requests to it are made from inside too). */
  netns?: string;
  /** Let `collectGarbage()` force a full garbage collection (a preloaded SIGUSR2 handler). */
  gcOnDemand?: boolean;
}

/** A running `probe112 responder`. */
export interface ResponderRun {
  readonly process: ManagedProcess;
  readonly pid: number;
  /** Where it listens, ports resolved (port 0 becomes the one the OS picked). */
  readonly listeners: ResponderListener[];
  /** Its HTTP face (`--metrics`), as "http://IP:PORT", when it has one. */
  readonly metricsUrl: string | undefined;
  readonly journalDir: string | undefined;
  /** "IP:PORT" of the first listener of `protocol`. */
  address(protocol: ResponderListener["protocol"]): string;
  /** Every parsed JSON log line so far. */
  logLines(): Array<Record<string, unknown>>;
  /** Every journal record so far, oldest first. */
  journal(): JournalRecord[];
  /** Waits until a journal record matches (records are written after the call has ended). */
  waitForJournal(match: (r: JournalRecord) => boolean, timeoutMs?: number): Promise<JournalRecord>;
  /** The /metrics text. */
  scrape(): Promise<string>;
  /** GET on the HTTP face: status and body. */
  get(path: string): Promise<{ status: number; body: string }>;
  /**
   * Forces a full garbage collection in the responder, so that its heap metrics afterwards count
   * live objects only. Needs `gcOnDemand`.
   */
  collectGarbage(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then waits for the exit (the journal directory is removed afterwards). */
  stop(): Promise<ExitResult>;
}

/** One line of `responder-YYYY-MM-DD.jsonl`. */
export type JournalRecord = Record<string, unknown> & { type: string; callId: string };

const READY = "answering point ready";

/** Reads every journal record in `dir`. */
export function readJournal(dir: string): JournalRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^responder-\d{4}-\d\d-\d\d\.jsonl$/.test(f))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as JournalRecord),
    );
}

/**
 * Starts `probe112 responder` with JSON logs and waits for its "answering point ready" line,
 * which names the bound listeners: with `--listen udp:IP:0` the port comes from there.
 */
export async function startResponder(options: ResponderStartOptions): Promise<ResponderRun> {
  const journalDir = options.journal ? mkdtempSync(join(tmpdir(), "p112-journal-")) : undefined;
  const args = [
    CLI,
    "responder",
    ...options.args,
    ...(journalDir ? ["--journal-dir", journalDir] : []),
    "--log-format",
    "json",
    "--log-level",
    options.logLevel ?? "info",
  ];
  const diagDir = options.gcOnDemand ? mkdtempSync(join(tmpdir(), "p112-gc-")) : undefined;
  const gcDone = diagDir ? join(diagDir, "collected") : "";
  if (diagDir) {
    // Test-only preload: the responder itself has no such hook, and a heap snapshot (the other
    // way to force a collection) would inflate the resident set being measured.
    writeFileSync(
      join(diagDir, "gc-on-signal.cjs"),
      `process.on("SIGUSR2", () => { global.gc(); require("node:fs").writeFileSync(${JSON.stringify(gcDone)}, String(Date.now())); });\n`,
    );
  }
  const env = diagDir
    ? {
        ...(options.env ?? process.env),
        NODE_OPTIONS: `--expose-gc --require ${join(diagDir, "gc-on-signal.cjs")}`,
      }
    : options.env;
  const spawnOptions = { name: "probe112 responder", env, maxOutputChars: 4 * 1024 * 1024 };
  const cleanup = () => {
    for (const d of [journalDir, diagDir]) if (d) rmSync(d, { recursive: true, force: true });
  };
  // `ip netns exec` execs the command, so the pid stays the responder's own (for /proc).
  const proc = options.netns
    ? spawnManaged("ip", ["netns", "exec", options.netns, process.execPath, ...args], spawnOptions)
    : spawnManaged(process.execPath, args, spawnOptions);
  let ready: Record<string, unknown> | undefined;
  try {
    const text = await proc.waitFor(/"msg":"answering point ready"\}\n/, options.readyTimeoutMs ?? 10_000);
    ready = parseLogLines(text).find((l) => l.msg === READY);
  } catch (e) {
    await proc.stop("SIGKILL", 500);
    cleanup();
    throw e;
  }
  const listeners = (ready!.listeners as ResponderListener[]) ?? [];
  const metrics = ready!.metrics as { host: string; port: number } | undefined;
  const metricsUrl = metrics
    ? `http://${metrics.host.includes(":") ? `[${metrics.host}]` : metrics.host}:${metrics.port}`
    : undefined;
  const records = () => (journalDir ? readJournal(journalDir) : []);
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    if (!metricsUrl) throw new Error("responder started without --metrics");
    if (!options.netns) {
      const res = await fetch(`${metricsUrl}${path}`);
      return { status: res.status, body: await res.text() };
    }
    const script = `fetch(${JSON.stringify(`${metricsUrl}${path}`)}).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))`;
    return JSON.parse(await run("ip", ["netns", "exec", options.netns, process.execPath, "-e", script])) as {
      status: number;
      body: string;
    };
  };
  return {
    process: proc,
    pid: proc.pid!,
    listeners,
    metricsUrl,
    journalDir,
    address(protocol) {
      const l = listeners.find((x) => x.protocol === protocol);
      if (!l) throw new Error(`responder has no ${protocol} listener: ${JSON.stringify(listeners)}`);
      return `${l.address.includes(":") ? `[${l.address}]` : l.address}:${l.port}`;
    },
    logLines: () => parseLogLines(proc.stderr()),
    journal: records,
    async waitForJournal(match, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = records().find(match);
        if (hit) return hit;
        if (Date.now() > deadline) {
          throw new Error(
            `no matching journal record within ${timeoutMs} ms; journal:\n${records()
              .map((r) => JSON.stringify(r))
              .join("\n")}\nresponder log tail:\n${tail(proc.stderr(), 20)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async scrape() {
      const res = await get("/metrics");
      if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
      return res.body;
    },
    get,
    async collectGarbage(timeoutMs = 10_000) {
      if (!diagDir) throw new Error("responder started without gcOnDemand");
      rmSync(gcDone, { force: true });
      process.kill(proc.pid!, "SIGUSR2");
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(gcDone)) {
        if (Date.now() > deadline) throw new Error("the responder did not collect garbage on SIGUSR2");
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      const result = await proc.stop("SIGTERM", 5000);
      cleanup();
      return result;
    },
  };
}

/**
 * The value of one sample in Prometheus text format; `labels` must match exactly the sample's
 * label set. Undefined when there is no such sample.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      got[l[1]!] = l[2]!;
    const keys = Object.keys(labels);
    if (keys.length !== Object.keys(got).length) continue;
    if (keys.every((k) => got[k] === labels[k])) return Number(m[3]);
  }
  return undefined;
}

/** Sum of every sample of `name` whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const body = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function residentBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
