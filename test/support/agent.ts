import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { CLI } from "./call.js";
import { type ExitResult, type ManagedProcess, parseLogLines, spawnManaged, tail } from "./process.js";
import { metricSum, metricValue } from "./responder.js";

/** An agent configuration as plain data; it is written as YAML, the way an operator writes it. */
export type AgentConfigData = Record<string, unknown>;

/** Options for {@link startAgent}. */
export interface AgentStartOptions {
  /** The configuration; `agent.journalDir` is set to `<dir>/journal` unless it names one. */
  config: AgentConfigData;
  /** Directory for the configuration, secrets and journal; a fresh one when absent. */
  dir?: string;
  /** Keep `dir` when the agent stops (a restart on the same journal needs it). */
  keepDir?: boolean;
  /** Extra arguments after `probe112 agent --config FILE`. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Run inside this network namespace; its HTTP face must then listen on an address the host reaches. */
  netns?: string;
}

/** One line of `agent-YYYY-MM-DD.jsonl`: a result with its journal time. */
export type AgentJournalRecord = Record<string, unknown> & {
  time: string;
  type: string;
  check: string;
  attempt: string;
  outcome: string;
  success: boolean;
};

/** A running `probe112 agent`. */
export interface AgentRun {
  readonly process: ManagedProcess;
  readonly pid: number;
  /** The HTTP face, "http://IP:PORT". */
  readonly url: string;
  readonly dir: string;
  readonly configFile: string;
  readonly journalDir: string;
  /** Every parsed JSON log line so far. */
  logLines(): Array<Record<string, unknown>>;
  /** The /metrics text. */
  scrape(): Promise<string>;
  /** One sample of the current /metrics (labels must match exactly); undefined when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** Sum of the samples of `name` whose labels include `labels`. */
  metricSum(name: string, labels?: Record<string, string>): Promise<number>;
  /** Every journal record so far, oldest first (throws on a line that is not JSON). */
  journal(): AgentJournalRecord[];
  /** Replaces the configuration file (atomically, as a deploy tool would) and sends SIGHUP. */
  reload(config: AgentConfigData | string): void;
  /** Sends a signal to the agent process alone. */
  signal(signal: NodeJS.Signals): void;
  /** Stops the agent (SIGTERM unless told otherwise) and removes `dir` unless it is kept. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitResult>;
}

const READY = "agent ready";

/** The daily journal files of an agent, oldest first. */
export function agentJournalFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^agent-\d{4}-\d\d-\d\d\.jsonl$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/** Every record of an agent journal; a line that does not parse is an error naming file and line. */
export function readAgentJournal(dir: string): AgentJournalRecord[] {
  return agentJournalFiles(dir).flatMap((file) => {
    const text = readFileSync(file, "utf8");
    if (text !== "" && !text.endsWith("\n")) throw new Error(`${file}: the last line is not terminated`);
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l, i) => {
        try {
          return JSON.parse(l) as AgentJournalRecord;
        } catch (e) {
          throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message}): ${l.slice(0, 200)}…`);
        }
      });
  });
}

/** Writes a secret to a file of its own (mode 0600) and returns the reference for the configuration. */
export function writeSecret(dir: string, name: string, value: string): { file: string } {
  const file = join(dir, name);
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file };
}

/** Polls `probe` until it returns something other than undefined/false; rejects with `what` on timeout. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string | (() => string),
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const text = typeof what === "function" ? what() : what;
      throw new Error(
        `${text}: not within ${timeoutMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts `probe112 agent --config FILE` with JSON logs at level info and waits for its "agent
 * ready" line, which names the bound HTTP address.
 */
export async function startAgent(options: AgentStartOptions): Promise<AgentRun> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "p112-agent-"));
  const configFile = join(dir, "agent.yaml");
  const agentSection = (options.config.agent ?? {}) as Record<string, unknown>;
  const journalDir = (agentSection.journalDir as string | undefined) ?? join(dir, "journal");
  const config = { ...options.config, agent: { ...agentSection, journalDir } };
  writeFileSync(configFile, stringify(config));
  const argv = [
    CLI,
    "agent",
    "--config",
    configFile,
    ...(options.args ?? []),
    "--log-format",
    "json",
    "--log-level",
    "info",
  ];
  const spawnOptions = { name: "probe112 agent", env: options.env, maxOutputChars: 8 * 1024 * 1024 };
  // `ip netns exec` execs the command, so the pid stays the agent's own (signals reach it).
  const proc = options.netns
    ? spawnManaged("ip", ["netns", "exec", options.netns, process.execPath, ...argv], spawnOptions)
    : spawnManaged(process.execPath, argv, spawnOptions);
  const readyLine = (text: string) => parseLogLines(text).find((l) => l.msg === READY);
  let ready: Record<string, unknown> | undefined;
  try {
    ready = readyLine(
      await proc.waitFor(
        (text) => text.includes(READY) && readyLine(text) !== undefined,
        options.readyTimeoutMs ?? 10_000,
      ),
    );
  } catch (e) {
    await proc.stop("SIGKILL", 500);
    if (!options.keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const http = ready!.http as { host: string; port: number };
  const url = `http://${http.host.includes(":") ? `[${http.host}]` : http.host}:${http.port}`;
  const scrape = async () => {
    const res = await fetch(`${url}/metrics`);
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
    return res.text();
  };
  return {
    process: proc,
    pid: proc.pid!,
    url,
    dir,
    configFile,
    journalDir,
    logLines: () => parseLogLines(proc.stderr()),
    scrape,
    metric: async (name, labels = {}) => metricValue(await scrape(), name, labels),
    metricSum: async (name, labels = {}) => metricSum(await scrape(), name, labels),
    journal: () => readAgentJournal(journalDir),
    reload(next) {
      const text = typeof next === "string" ? next : stringify(next);
      const tmp = `${configFile}.new`;
      writeFileSync(tmp, text);
      renameSync(tmp, configFile);
      process.kill(proc.pid!, "SIGHUP");
    },
    signal(signal) {
      process.kill(proc.pid!, signal);
    },
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      const result = await proc.stop(signal, graceMs);
      if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

/** The last lines of an agent's log, for failure messages. */
export function agentLogTail(agent: AgentRun, lines = 30): string {
  return tail(agent.process.stderr(), lines);
}

/** Options for {@link agentConfig}. */
export interface AgentConfigOptions {
  /** The loopback address the agent calls from and listens on. */
  ip: string;
  httpPort: number;
  id?: string;
  /** Extra settings under `agent` (sweepToken, maxCallsPerMinute, …). */
  agent?: Record<string, unknown>;
  /** Paths by id with their extra settings; each gets a number, a provider, access voip and `localAddress: ip`. */
  paths: Record<string, Record<string, unknown>>;
  /** Destinations by id: a URI, or settings of which `uri` is required (role defaults to test112). */
  destinations: Record<string, string | Record<string, unknown>>;
  /** Check settings shared by every path × destination (interval, hold, …). */
  check?: Record<string, unknown>;
  /** Explicit check entries instead of one entry over every path and destination. */
  checks?: Array<Record<string, unknown>>;
}

/**
 * A small, valid agent configuration for tests: one provider, the given paths and destinations,
 * and by default one check entry covering every pair.
 */
export function agentConfig(o: AgentConfigOptions): AgentConfigData {
  const pathIds = Object.keys(o.paths);
  const destIds = Object.keys(o.destinations);
  return {
    agent: {
      id: o.id ?? "test-agent",
      operator: "test",
      region: "loopback",
      maxCallsPerMinute: 120,
      ...o.agent,
      http: { listen: `${o.ip}:${o.httpPort}`, ...(o.agent?.http as object | undefined) },
    },
    providers: [{ id: "test-provider", name: "Test provider" }],
    paths: pathIds.map((id, i) => ({
      id,
      number: i + 1,
      provider: "test-provider",
      access: "voip",
      transport: "udp",
      localAddress: o.ip,
      ...o.paths[id],
    })),
    destinations: destIds.map((id) => {
      const d = o.destinations[id]!;
      return { id, role: "test112", ...(typeof d === "string" ? { uri: d } : d) };
    }),
    checks: o.checks ?? [{ paths: pathIds, destinations: destIds, ...o.check }],
  };
}
