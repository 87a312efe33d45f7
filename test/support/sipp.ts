import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { digestResponse } from "./digest.js";
import { type ManagedProcess, spawnManaged, tail, waitForPort } from "./process.js";

/** Directory holding the SIPp XML fixtures. */
export const SIPP_FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures/sipp");

/** Meaning of SIPp's exit codes (see `sipp -h`). */
export const SIPP_EXIT_CODES: Readonly<Record<number, string>> = {
  0: "all calls successful",
  1: "at least one call failed",
  97: "exit on internal command (calls may have been processed)",
  98: "exit on internal command, result unknown",
  99: "normal exit without calls processed",
  254: "could not bind its socket",
  255: "fatal error (bad arguments, scenario error, timeout with -timeout_error...)",
};

/** SIPp -t transport modes the fixtures are used with. */
export type SippTransport = "u1" | "t1" | "tn";

/** Options for {@link startSipp}. */
export interface SippOptions {
  /** Path of the XML scenario, or a bare fixture name such as "uas-answer" / "uas-answer.xml". */
  scenario: string;
  role: "uas" | "uac";
  transport: SippTransport;
  /** Local address for -i (and media, control and bind address). */
  ip: string;
  /** Local SIP port (-p). */
  port: number;
  /** "host:port" to send to; required for role "uac". */
  remote?: string;
  /** Calls to process before exiting (-m); default 1. */
  calls?: number;
  extraArgs?: string[];
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** -key values; merged over the defaults the fixture declares in its `keys:` comment. */
  keys?: Record<string, string>;
  /** Global timeout (-timeout … -timeout_error) so a stuck SIPp fails instead of hanging; default 30. */
  timeoutS?: number;
  /** How long `ready` waits for the listening socket; default 5000 ms. */
  readyTimeoutMs?: number;
  /** Keep the per-run directory after exit (it is always kept when SIPp exits non-zero). */
  keepDir?: boolean;
}

/** Everything SIPp left behind, for assertions and failure messages. */
export interface SippResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every message sent and received (-trace_msg). */
  messageLog: string;
  /** Unexpected messages and errors (-trace_err). */
  errorLog: string;
  /** Final statistics screen (-trace_screen). */
  screenLog: string;
  /** Per-call debugging of aborted calls (-trace_calldebug). */
  callDebugLog: string;
  dir: string;
}

/** A running SIPp instance. */
export interface SippRun {
  readonly options: SippOptions;
  readonly scenarioPath: string;
  readonly args: string[];
  /** Per-run working directory holding SIPp's logs. */
  readonly dir: string;
  readonly process: ManagedProcess;
  /** Resolves once SIPp listens on its port; rejects (with SIPp's errors) if it dies first. */
  readonly ready: Promise<void>;
  /** Resolves when SIPp exits, with its logs (never rejects). */
  readonly exit: Promise<SippResult>;
  /** Asks SIPp to quit (SIGUSR1 lets calls finish; SIGTERM/SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<SippResult>;
  /** Resolves with the result if SIPp exited 0, otherwise rejects with a descriptive error. */
  expectSuccess(): Promise<SippResult>;
}

/** Resolves a bare fixture name ("uas-answer") to its path; paths are returned unchanged. */
export function fixturePath(scenario: string): string {
  if (scenario.includes("/")) return resolve(scenario);
  const file = scenario.endsWith(".xml") ? scenario : `${scenario}.xml`;
  return join(SIPP_FIXTURES_DIR, file);
}

/**
 * Reads the `render: name …` declaration: keys startSipp substitutes into the XML itself because
 * SIPp evaluates those places (e.g. a response's status code) while loading the scenario.
 */
export function scenarioRenderedKeys(scenarioPath: string): string[] {
  const text = readFileSync(scenarioPath, "utf8");
  const declaration = /^\s*render:\s*(.*)$/m.exec(text.split("<scenario")[0] ?? "");
  return declaration?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Reads the `keys: name=value …` declaration from a scenario's header comment. SIPp aborts
 * on an unknown `[name]`, so every key a fixture uses is declared there with a default.
 */
export function scenarioKeyDefaults(scenarioPath: string): Record<string, string> {
  const text = readFileSync(scenarioPath, "utf8");
  const declaration = /^\s*keys:\s*(.*)$/m.exec(text.split("<scenario")[0] ?? "");
  const keys: Record<string, string> = {};
  for (const m of (declaration?.[1] ?? "").matchAll(/([\w-]+)=("[^"]*"|\S+)/g)) {
    keys[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1");
  }
  return keys;
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Builds a human-readable explanation of a SIPp run, with the tails of its logs. */
export function describeSippResult(run: Pick<SippRun, "args" | "scenarioPath">, result: SippResult): string {
  const meaning =
    result.code === null ? `killed by ${result.signal}` : (SIPP_EXIT_CODES[result.code] ?? "unknown");
  const sections = [
    `SIPp ${basename(run.scenarioPath)} exited with code ${result.code} (${meaning})`,
    `command: sipp ${run.args.join(" ")}`,
    `run dir: ${result.dir}`,
  ];
  if (result.errorLog.trim()) sections.push(`--- error log (tail) ---\n${tail(result.errorLog, 40)}`);
  if (result.stderr.trim()) sections.push(`--- stderr (tail) ---\n${tail(result.stderr, 20)}`);
  if (result.callDebugLog.trim())
    sections.push(`--- call debug (tail) ---\n${tail(result.callDebugLog, 60)}`);
  if (result.messageLog.trim()) sections.push(`--- message log (tail) ---\n${tail(result.messageLog, 80)}`);
  return sections.join("\n");
}

/** Starts SIPp with full tracing into a fresh temp directory; see {@link SippOptions}. */
export function startSipp(options: SippOptions): SippRun {
  const scenarioPath = fixturePath(options.scenario);
  if (!existsSync(scenarioPath)) throw new Error(`SIPp scenario not found: ${scenarioPath}`);
  if (options.role === "uac" && !options.remote) throw new Error("startSipp: role uac needs `remote`");

  const dir = mkdtempSync(join(tmpdir(), `p112-sipp-${basename(scenarioPath, ".xml")}-`));
  const defaults = scenarioKeyDefaults(scenarioPath);
  // Fixtures that must spell the transport in lower case get it derived from -t.
  if ("transport_lc" in defaults) defaults.transport_lc = options.transport === "u1" ? "udp" : "tcp";
  const keys = { ...defaults, ...options.keys };
  const rendered = scenarioRenderedKeys(scenarioPath);
  let sippScenario = scenarioPath;
  if (rendered.length > 0) {
    let xml = readFileSync(scenarioPath, "utf8");
    for (const name of rendered) {
      const value = keys[name];
      if (value === undefined)
        throw new Error(`${basename(scenarioPath)}: no value for rendered key ${name}`);
      xml = xml.split(`[${name}]`).join(xmlEscape(value));
      delete keys[name];
    }
    sippScenario = join(dir, basename(scenarioPath));
    writeFileSync(sippScenario, xml);
  }
  const timeoutS = options.timeoutS ?? 30;
  const logs = {
    message: join(dir, "messages.log"),
    error: join(dir, "errors.log"),
    screen: join(dir, "screen.log"),
    callDebug: join(dir, "calldebug.log"),
  };

  const args: string[] = [];
  if (options.role === "uac") args.push(options.remote!);
  args.push(
    "-sf",
    sippScenario,
    "-t",
    options.transport,
    "-i",
    options.ip,
    "-p",
    String(options.port),
    // Media and control sockets default to fixed ports on every address; pin them to our
    // address so parallel runs on different loopback IPs cannot collide.
    "-mi",
    options.ip,
    "-ci",
    options.ip,
    "-bind_local",
    "-m",
    String(options.calls ?? 1),
    "-nostdin",
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
    "-trace_msg",
    "-message_file",
    logs.message,
    "-trace_err",
    "-error_file",
    logs.error,
    "-trace_screen",
    "-screen_file",
    logs.screen,
    "-trace_calldebug",
    "-calldebug_file",
    logs.callDebug,
  );
  for (const [key, value] of Object.entries(keys)) args.push("-key", key, value);
  args.push(...(options.extraArgs ?? []));

  const name = `sipp ${options.role} ${basename(scenarioPath)} ${options.ip}:${options.port}`;
  const proc = options.netns
    ? spawnManaged("ip", ["netns", "exec", options.netns, "sipp", ...args], {
        name,
        cwd: dir,
        maxOutputChars: 64 * 1024,
      })
    : spawnManaged("sipp", args, { name, cwd: dir, maxOutputChars: 64 * 1024 });

  const exit = proc.exited.then((r): SippResult => {
    const result: SippResult = {
      ...r,
      messageLog: readIfExists(logs.message),
      errorLog: readIfExists(logs.error),
      screenLog: readIfExists(logs.screen),
      callDebugLog: readIfExists(logs.callDebug),
      dir,
    };
    if (r.code === 0 && !options.keepDir) rmSync(dir, { recursive: true, force: true });
    return result;
  });

  const self = { args, scenarioPath };
  const ready = waitForPort(
    options.transport === "u1" ? "udp" : "tcp",
    options.ip,
    options.port,
    options.readyTimeoutMs ?? 5000,
    { netns: options.netns, tcpProbe: "ss", process: proc },
  ).catch(async (err: Error) => {
    if (proc.running()) throw err;
    throw new Error(`${err.message.split("\n")[0]}\n${describeSippResult(self, await exit)}`);
  });
  // A UAC with a TCP transport connects out instead of listening.
  const readyForRole = options.role === "uac" && options.transport !== "u1" ? Promise.resolve() : ready;
  readyForRole.catch(() => {});

  return {
    options,
    scenarioPath,
    args,
    dir,
    process: proc,
    ready: readyForRole,
    exit,
    async stop(graceMs = 2000) {
      if (proc.running()) {
        proc.child.kill("SIGUSR1");
        const timer = setTimeout(() => void proc.stop("SIGTERM", 1000), graceMs);
        await proc.exited;
        clearTimeout(timer);
      }
      return exit;
    },
    async expectSuccess() {
      const result = await exit;
      if (result.code !== 0) throw new Error(describeSippResult(self, result));
      return result;
    },
  };
}

/** One message from a SIPp message log. */
export interface SippLogEntry {
  direction: "sent" | "received";
  /** Wall-clock time of the banner line, in ms since the epoch. */
  at: number;
  /** The SIP message, CRLFs normalised to LF. */
  text: string;
}

/** Splits a SIPp message log into its entries (each starts with a dated "sent"/"received" banner). */
export function sippLogEntries(messageLog: string): SippLogEntry[] {
  const entries: SippLogEntry[] = [];
  const banner = /^-{5,} (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d+)\s*$/gm;
  const marks = [...messageLog.matchAll(banner)];
  marks.forEach((mark, i) => {
    const start = mark.index! + mark[0].length;
    const end = i + 1 < marks.length ? marks[i + 1]!.index! : messageLog.length;
    const body = messageLog.slice(start, end).replace(/\r\n/g, "\n");
    const match = /^\s*(?:UDP|TCP|TLS|SCTP) message (sent|received)[^\n]*\n([\s\S]*)$/.exec(body);
    if (!match) return;
    const at = new Date(`${mark[1]}T${mark[2]}.${mark[3]!.slice(0, 3)}`).getTime();
    entries.push({ direction: match[1] as "sent" | "received", at, text: match[2]!.trim() });
  });
  return entries;
}

/** Start lines ("INVITE sip:…", "SIP/2.0 200 OK") of the messages SIPp sent or received. */
export function sippStartLines(messageLog: string, direction: "sent" | "received"): string[] {
  return sippLogEntries(messageLog)
    .filter((e) => e.direction === direction)
    .map((e) => e.text.split(/\r?\n/)[0] ?? "");
}

/**
 * The Contact URI a UAS fixture advertises (so the Request-URI of in-dialog requests to it):
 * SIPp's [transport] is upper case; uas-auth-bye uses lower case (`lowerCase`, the default).
 */
export function uasContactUri(ip: string, port: number, transport: SippTransport, lowerCase = true): string {
  const name = transport === "u1" ? "udp" : "tcp";
  return `sip:uas@${ip}:${port};transport=${lowerCase ? name : name.toUpperCase()}`;
}

/**
 * The Proxy-Authorization response uas-auth-bye.xml expects for the retried BYE, i.e. the value
 * to pass as its `bye_response` key (no qop; nonce and realm from the fixture's defaults).
 */
export function expectedByeDigest(opts: {
  ip: string;
  port: number;
  transport: SippTransport;
  username: string;
  password: string;
  uri?: string;
}): string {
  const defaults = scenarioKeyDefaults(fixturePath("uas-auth-bye"));
  return digestResponse({
    username: opts.username,
    password: opts.password,
    realm: defaults.auth_realm!,
    nonce: defaults.bye_nonce!,
    method: "BYE",
    uri: opts.uri ?? uasContactUri(opts.ip, opts.port, opts.transport),
  });
}

/** Removes a SIPp run directory (they are kept after failures for post-mortem). */
export function removeSippDir(result: SippResult): void {
  rmSync(result.dir, { recursive: true, force: true });
}
