import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, freeUdpTcpPort } from "./ports.js";
import { type ExitResult, type ManagedProcess, spawnManaged, tail, waitForPort } from "./process.js";

/** How the baresip far end behaves once a call comes in. */
export type BaresipMode =
  /**
   * A softphone nobody sits at: it answers by itself (answermode=auto), sends a 440 Hz sine of
   * its own and plays what it receives into a sink. It never returns our audio.
   */
  | "softphone"
  /**
   * The echo module answers and returns what it hears: decoded, played into an audio bridge,
   * read back from it and encoded again. RFC 4733 digits are relayed back as well.
   */
  | "echo";

/** Options for {@link startBaresip}. */
export interface BaresipOptions {
  /** Address for SIP and, through net_interface, the c= line of its SDP. */
  ip: string;
  mode: BaresipMode;
  /** User part it answers for; the Request-URI must carry it. Default "112". */
  user?: string;
  /** Audio codecs it accepts, in its order of preference. Default PCMA, PCMU. */
  codecs?: ReadonlyArray<"PCMA" | "PCMU">;
  /**
   * Sample rate of its audio devices in echo mode. 8000 passes G.711 frames through untouched;
   * 48000 makes it resample on the way in and out, as a wideband media server would.
   */
  echoDeviceRate?: 8000 | 48000;
  readyTimeoutMs?: number;
}

/** One event baresip's ctrl_tcp module reported (CALL_ESTABLISHED, CALL_DTMF_START, …). */
export interface BaresipEvent {
  readonly type: string;
  readonly class?: string;
  readonly param?: string;
  readonly id?: string;
  readonly [key: string]: unknown;
}

/**
 * One direction of the RTP summary baresip prints when a call ends (`rtp_stats yes`). Loss and
 * jitter come from RTCP and are missing when the call ended before the first report.
 */
export interface BaresipStreamStats {
  readonly packets: number;
  readonly lost: number | null;
  readonly jitterMs: number | null;
}

/** A running baresip with a control connection. */
export interface BaresipInstance {
  /** Request-URI that reaches it, e.g. sip:112@127.0.0.1:40000. */
  readonly target: string;
  readonly dir: string;
  readonly config: string;
  readonly process: ManagedProcess;
  log(): string;
  events(): readonly BaresipEvent[];
  /** Resolves with the first event of `type` reported after `since` events (default: any). */
  waitForEvent(type: string, timeoutMs?: number, since?: number): Promise<BaresipEvent>;
  /** Runs a long command (as typed after "/" in its console), e.g. "hangup". */
  command(command: string, params?: string): Promise<{ ok: boolean; data: string }>;
  /** Digits whose start it logged as received RFC 4733 events ("received event: 'x' (end=0)"). */
  loggedDigits(): string;
  /**
   * Resolves once the call has ended and baresip printed its RTP summary: what it sent
   * (transmit) and received. (The echo module takes over a call's event handler, so ctrl_tcp
   * reports neither CALL_ESTABLISHED nor CALL_CLOSED for its calls; the summary comes always.)
   */
  waitForCallEnd(timeoutMs?: number): Promise<{ transmit: BaresipStreamStats; receive: BaresipStreamStats }>;
  /** Terminates baresip and removes its config directory. */
  stop(): Promise<ExitResult>;
}

function tcpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A SIP port for baresip: free on UDP and TCP, and with the TCP port above it free as well,
 * because baresip always opens a TLS listener on sip_listen's port + 1.
 */
async function freeSipPort(ip: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freeUdpTcpPort(ip);
    if (port < 65535 && (await tcpPortFree(ip, port + 1))) return port;
  }
  throw new Error(`no SIP port with a free TLS port above it on ${ip}`);
}

/** Renders baresip's `config` for one headless instance without a sound card. */
export function baresipConfig(o: BaresipOptions, sipPort: number, ctrlPort: number): string {
  const rate = o.echoDeviceRate ?? 8000;
  // ausine only produces 48 kHz stereo; baresip resamples it to the codec's 8 kHz mono.
  const audio =
    o.mode === "softphone"
      ? ["audio_source ausine,440", "audio_player aubridge,sink", "ausrc_srate 48000", "ausrc_channels 2"]
      : [
          // The echo module renames both bridge devices per call, which joins player and source.
          "audio_source aubridge,echo",
          "audio_player aubridge,echo",
          `ausrc_srate ${rate}`,
          `ausrc_channels ${rate === 8000 ? 1 : 2}`,
          `auplay_srate ${rate}`,
          `auplay_channels ${rate === 8000 ? 1 : 2}`,
        ];
  return [
    "poll_method epoll",
    `sip_listen ${o.ip}:${sipPort}`,
    // An IP address here is used as is: SDP c= and the SIP Contact carry it.
    `net_interface ${o.ip}`,
    "call_max_calls 4",
    ...audio,
    "audio_alert aubridge,alert",
    "audio_level no",
    "rtcp_mux no",
    // Prints packets, loss and jitter of both directions when a call ends.
    "rtp_stats yes",
    "module_path /usr/lib/baresip/modules",
    "module g711.so",
    ...(o.mode === "softphone" ? ["module ausine.so"] : []),
    "module aubridge.so",
    "module_tmp account.so",
    // menu registers the long commands (hangup, …) that ctrl_tcp runs.
    "module_app menu.so",
    "module_app ctrl_tcp.so",
    ...(o.mode === "echo" ? ["module_app echo.so"] : []),
    `ctrl_tcp_listen ${o.ip}:${ctrlPort}`,
    "",
  ].join("\n");
}

/** The accounts line: no registration, and who answers (baresip itself, or the echo module). */
export function baresipAccount(o: BaresipOptions, sipPort: number): string {
  const codecs = (o.codecs ?? ["PCMA", "PCMU"]).join(",");
  const answer = o.mode === "softphone" ? "auto" : "manual";
  return `<sip:${o.user ?? "112"}@${o.ip}:${sipPort}>;regint=0;answermode=${answer};audio_codecs=${codecs}\n`;
}

/** Reads netstring-framed JSON (ctrl_tcp's protocol) from a byte stream. */
class NetstringReader {
  private buf = Buffer.alloc(0);

  constructor(private readonly onMessage: (json: Record<string, unknown>) => void) {}

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const colon = this.buf.indexOf(":");
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString("ascii"));
      if (!Number.isInteger(len)) throw new Error(`ctrl_tcp: bad netstring length in ${this.buf.toString()}`);
      if (this.buf.length < colon + 1 + len + 1) return;
      const body = this.buf.subarray(colon + 1, colon + 1 + len).toString("utf8");
      this.buf = this.buf.subarray(colon + 1 + len + 1);
      this.onMessage(JSON.parse(body) as Record<string, unknown>);
    }
  }
}

function netstring(json: object): Buffer {
  const body = Buffer.from(JSON.stringify(json), "utf8");
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(",")]);
}

function connectCtrl(ip: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

function parseCallStats(output: string) {
  const lines = output.split(/[\r\n]+/);
  const start = lines.findLastIndex((l) => /^audio\s+Transmit:\s+Receive:/.test(l));
  if (start < 0) return undefined;
  const row = (name: string) => {
    const line = lines.slice(start + 1, start + 8).find((l) => l.startsWith(`${name}:`));
    const m = line && /^[\w. ]+:\s+(-?[\d.]+)\s+(-?[\d.]+)/.exec(line);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };
  const packets = row("packets");
  const lost = row("lost");
  const jitter = row("jitter");
  if (!packets) return undefined;
  return {
    transmit: { packets: packets[0]!, lost: lost?.[0] ?? null, jitterMs: jitter?.[0] ?? null },
    receive: { packets: packets[1]!, lost: lost?.[1] ?? null, jitterMs: jitter?.[1] ?? null },
  };
}

async function launch(o: BaresipOptions): Promise<BaresipInstance> {
  const sipPort = await freeSipPort(o.ip);
  const ctrlPort = await freePort("tcp", o.ip);
  const dir = mkdtempSync(join(tmpdir(), "p112-baresip-"));
  const config = baresipConfig(o, sipPort, ctrlPort);
  writeFileSync(join(dir, "config"), config);
  writeFileSync(join(dir, "accounts"), baresipAccount(o, sipPort));
  // stdin stays /dev/null: no stdio UI module is loaded, control goes through ctrl_tcp.
  const proc = spawnManaged("baresip", ["-f", dir], {
    name: `baresip ${o.mode} ${o.ip}:${sipPort}`,
    cwd: dir,
  });
  let ctrl: Socket | undefined;
  const stop = async () => {
    ctrl?.destroy();
    const result = await proc.stop("SIGTERM", 3000);
    rmSync(dir, { recursive: true, force: true });
    return result;
  };
  try {
    const timeout = o.readyTimeoutMs ?? 10000;
    await proc.waitFor(/baresip is ready/, timeout);
    await waitForPort("udp", o.ip, sipPort, timeout, { process: proc });
    ctrl = await connectCtrl(o.ip, ctrlPort);
  } catch (err) {
    await stop();
    throw new Error(
      `baresip did not start: ${(err as Error).message.split("\n")[0]}\n--- output (tail) ---\n${tail(proc.output(), 40)}\n--- config ---\n${config}`,
    );
  }

  const events: BaresipEvent[] = [];
  const pending = new Map<string, (r: { ok: boolean; data: string }) => void>();
  let listeners: Array<() => void> = [];
  const reader = new NetstringReader((m) => {
    if (m.event === true) events.push(m as unknown as BaresipEvent);
    if (m.response === true && typeof m.token === "string") {
      pending.get(m.token)?.({ ok: m.ok === true, data: String(m.data ?? "") });
      pending.delete(m.token);
    }
    for (const l of listeners) l();
  });
  ctrl.on("data", (chunk: Buffer) => reader.push(chunk));
  ctrl.on("error", () => {});
  let nextToken = 0;

  return {
    target: `sip:${o.user ?? "112"}@${o.ip}:${sipPort}`,
    dir,
    config,
    process: proc,
    log: () => proc.output(),
    events: () => [...events],
    waitForEvent(type, timeoutMs = 10000, since = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(since).find((e) => e.type === type);
          if (!found) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `baresip: no ${type} event within ${timeoutMs} ms; events: ${events.map((e) => e.type).join(", ")}\n${tail(proc.output())}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners = listeners.filter((l) => l !== check);
        };
        listeners.push(check);
        check();
      });
    },
    command(command, params = "") {
      const token = `t${++nextToken}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(token);
          reject(new Error(`baresip: no response to ${command} within 5 s`));
        }, 5000);
        pending.set(token, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        ctrl!.write(netstring({ command, params, token }));
      });
    },
    loggedDigits: () =>
      [...proc.output().matchAll(/received event: '(.)' \(end=0\)/g)].map((m) => m[1]!).join(""),
    async waitForCallEnd(timeoutMs = 5000) {
      // The summary goes out in one burst; its RTCP rows (last) only when there were reports.
      await proc.waitFor(/^errors:\s+\d+\s+\d+/m, timeoutMs);
      await proc.waitFor(/^jitter:\s+[\d.]+\s+[\d.]+\s+\(ms\)/m, 300).catch(() => {});
      const stats = parseCallStats(proc.output());
      if (!stats) throw new Error(`baresip: cannot read its RTP summary\n${tail(proc.output())}`);
      return stats;
    },
    stop,
  };
}

/**
 * Starts baresip headless with a generated config directory (no sound card: a sine source or
 * the echo module's audio bridge), auto-answering on `ip`, with ctrl_tcp connected for events
 * and commands. Retries with fresh ports when another test grabbed one between check and bind.
 */
export async function startBaresip(o: BaresipOptions): Promise<BaresipInstance> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(o);
    } catch (err) {
      lastError = err;
      if (!/Address already in use/.test((err as Error).message)) throw err;
    }
  }
  throw lastError;
}
