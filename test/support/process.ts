import { type ChildProcess, execFile, spawn } from "node:child_process";
import { connect } from "node:net";
import type { PortKind } from "./ports.js";

/** How a managed process ended. */
export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link spawnManaged}. */
export interface SpawnManagedOptions {
  /** Label used in error messages. */
  name?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Characters kept per stream; older output is dropped so chatty peers cannot exhaust memory. */
  maxOutputChars?: number;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
}

/** A child process whose output is captured and which is killed when the test process ends. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitResult>;
  /** True until the process has exited. */
  running(): boolean;
  stdout(): string;
  stderr(): string;
  /** stdout followed by stderr. */
  output(): string;
  /** Resolves with the output once `match` holds; rejects on timeout or early exit. */
  waitFor(match: RegExp | ((output: string) => boolean), timeoutMs: number): Promise<string>;
  /** Signals the process group, escalates to SIGKILL after `graceMs`, resolves with the exit result. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitResult>;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;
const live = new Set<ManagedProcess>();

class BoundedText {
  private text = "";
  private dropped = 0;

  constructor(private readonly max: number) {}

  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max) {
      const cut = this.text.length - this.max;
      this.dropped += cut;
      this.text = this.text.slice(cut);
    }
  }

  toString(): string {
    return this.dropped > 0 ? `[... ${this.dropped} chars dropped ...]\n${this.text}` : this.text;
  }
}

/** Returns the last `lines` lines of `text`, for compact error messages. */
export function tail(text: string, lines = 30): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the child leads its own group, so helpers it forked (e.g. Kamailio workers) die too.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/** Spawns `command` in its own process group with bounded stdout/stderr capture. */
export function spawnManaged(
  command: string,
  args: string[],
  options: SpawnManagedOptions = {},
): ManagedProcess {
  const name = options.name ?? command;
  const max = options.maxOutputChars ?? DEFAULT_MAX_OUTPUT;
  const out = new BoundedText(max);
  const err = new BoundedText(max);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    detached: true,
  });
  if (options.input !== undefined) {
    // EPIPE when the child exits without reading is expected and must not crash the test.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.input);
  }
  let listeners: Array<() => void> = [];
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    out.append(chunk);
    notify();
  });
  child.stderr?.on("data", (chunk: string) => {
    err.append(chunk);
    notify();
  });

  let done = false;
  const exited = new Promise<ExitResult>((resolve) => {
    let spawnError: Error | undefined;
    child.once("error", (e) => {
      spawnError = e;
      err.append(`\n[spawn error: ${e.message}]\n`);
      if (child.pid === undefined) {
        done = true;
        resolve({ code: null, signal: null, stdout: out.toString(), stderr: err.toString() });
        notify();
      }
    });
    // "close" rather than "exit" so the final stdout/stderr chunks are included.
    child.once("close", (code, signal) => {
      done = true;
      if (spawnError && code === null && signal === null) code = 127;
      resolve({ code, signal, stdout: out.toString(), stderr: err.toString() });
      notify();
    });
  });

  const handle: ManagedProcess = {
    name,
    child,
    pid: child.pid,
    exited,
    running: () => !done,
    stdout: () => out.toString(),
    stderr: () => err.toString(),
    output: () => `${out.toString()}${err.toString()}`,
    waitFor(match, timeoutMs) {
      const test = typeof match === "function" ? match : (text: string) => match.test(text);
      return new Promise<string>((resolve, reject) => {
        const check = (): boolean => {
          const text = handle.output();
          if (test(text)) {
            cleanup();
            resolve(text);
            return true;
          }
          if (done) {
            cleanup();
            reject(new Error(`${name} exited before ${String(match)} appeared; output tail:\n${tail(text)}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `${name}: ${String(match)} not seen within ${timeoutMs} ms; output tail:\n${tail(handle.output())}`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners = listeners.filter((l) => l !== listener);
        };
        const listener = () => {
          check();
        };
        listeners.push(listener);
        check();
      });
    },
    async stop(signal = "SIGTERM", graceMs = 3000) {
      if (!done) {
        signalGroup(child, signal);
        // Only signal while the group is known to be ours: after exit its id may be reused.
        const timer = setTimeout(() => {
          if (!done) signalGroup(child, "SIGKILL");
        }, graceMs);
        try {
          await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
  live.add(handle);
  void exited.then(() => live.delete(handle));
  return handle;
}

/** Stops every process started through {@link spawnManaged} that is still running. */
export async function killAll(signal: NodeJS.Signals = "SIGTERM", graceMs = 2000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(signal, graceMs)));
}

process.once("exit", () => {
  // Only synchronous work is possible here; SIGKILL is the one signal nobody can ignore.
  for (const p of live) signalGroup(p.child, "SIGKILL");
});

/** Runs a command to completion and returns stdout; rejects with stderr on a non-zero exit. */
export function run(command: string, args: string[], timeoutMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Lists listening sockets (`ss -H -ln`) of one kind, optionally inside a network namespace. */
export async function listeningSockets(kind: PortKind, netns?: string): Promise<string[]> {
  const ssArgs = ["-H", "-n", "-l", kind === "udp" ? "-u" : "-t"];
  const output = netns ? await run("ip", ["netns", "exec", netns, "ss", ...ssArgs]) : await run("ss", ssArgs);
  return output
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[3])
    .filter((addr): addr is string => Boolean(addr));
}

function tcpConnectable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/** Options for {@link waitForPort}. */
export interface WaitForPortOptions {
  /** Look inside this network namespace (always via `ss`). */
  netns?: string;
  /** How to probe TCP: connecting (default) or reading `ss`, which leaves the server untouched. */
  tcpProbe?: "connect" | "ss";
  /** Give up early when this process has exited. */
  process?: ManagedProcess;
}

/**
 * Waits until something listens on host:port. UDP is read from `ss -uln` (there is no
 * handshake to probe); TCP is probed by connecting unless told otherwise.
 */
export async function waitForPort(
  kind: PortKind,
  host: string,
  port: number,
  timeoutMs: number,
  options: WaitForPortOptions = {},
): Promise<void> {
  const wanted = formatAddress(host, port);
  const wildcard = [`0.0.0.0:${port}`, `*:${port}`, `[::]:${port}`];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok: boolean;
    if (kind === "tcp" && !options.netns && options.tcpProbe !== "ss") {
      ok = await tcpConnectable(host, port);
    } else {
      const sockets = await listeningSockets(kind, options.netns);
      ok = sockets.some((s) => s === wanted || wildcard.includes(s));
    }
    if (ok) return;
    if (options.process && !options.process.running()) {
      const result = await options.process.exited;
      throw new Error(
        `${options.process.name} exited (code ${result.code}, signal ${result.signal}) before listening on ${kind} ${wanted}; output tail:\n${tail(options.process.output())}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `nothing listening on ${kind} ${wanted}${options.netns ? ` in netns ${options.netns}` : ""} after ${timeoutMs} ms`,
      );
    }
    await sleep(50);
  }
}

/** The JSON log lines (pino) of a captured stderr; a line cut by the bounded capture is skipped. */
export function parseLogLines(stderr: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Cut short, or not JSON at all.
    }
  }
  return out;
}
