import type { TestCallResult } from "../../src/sip/test-call.js";
import { freeMediaPort, freePort } from "./ports.js";
import { type SippRun, startSipp } from "./sipp.js";

/** A SIPp UAS with its media socket on a port of our choosing. */
export interface MediaUas {
  readonly sipp: SippRun;
  /** Request-URI to call. */
  readonly target: string;
  readonly host: string;
  readonly port: number;
  /** SIPp's -mp: the port its SDP names ([media_port]) and the one it echoes or plays from. */
  readonly mediaPort: number;
}

/** Options for {@link startMediaUas}. */
export interface MediaUasOptions {
  host: string;
  /** Default "uas-answer". */
  scenario?: string;
  /** Run with -rtp_echo: RTP arriving on the media port goes back to its sender, byte for byte. */
  echo: boolean;
  keys?: Record<string, string>;
  extraArgs?: string[];
  /** Fixed ports (inside a network namespace); free ones on `host` otherwise. */
  port?: number;
  mediaPort?: number;
  netns?: string;
  timeoutS?: number;
}

/** Starts a SIPp UAS with `-mp` (and `-rtp_echo` when asked) and waits until it listens. */
export async function startMediaUas(options: MediaUasOptions): Promise<MediaUas> {
  const host = options.host;
  const port = options.port ?? (await freePort("udp", host));
  let mediaPort = options.mediaPort;
  while (mediaPort === undefined || mediaPort === port || mediaPort + 2 === port) {
    mediaPort = await freeMediaPort(host);
  }
  const sipp = startSipp({
    scenario: options.scenario ?? "uas-answer",
    role: "uas",
    transport: "u1",
    ip: host,
    port,
    keys: { ring_ms: "0", answer_ms: "0", ...options.keys },
    extraArgs: [
      "-mp",
      String(mediaPort),
      ...(options.echo ? ["-rtp_echo"] : []),
      ...(options.extraArgs ?? []),
    ],
    ...(options.netns ? { netns: options.netns } : {}),
    timeoutS: options.timeoutS ?? 30,
  });
  await sipp.ready;
  const uriHost = host.includes(":") ? `[${host}]` : host;
  return { sipp, target: `sip:112@${uriHost}:${port}`, host, port, mediaPort };
}

/** The SDP body of our INVITE ("offer") or of the far end's 200 to it ("answer"). */
export function sdpOf(r: TestCallResult, which: "offer" | "answer"): string {
  const entry =
    which === "offer"
      ? r.trace.find((e) => e.direction === "sent" && e.method === "INVITE")
      : r.trace.find((e) => e.direction === "received" && e.cseqMethod === "INVITE" && e.status === 200);
  if (!entry) throw new Error(`no ${which} in the trace`);
  return sdpOfMessage(entry.message);
}

/** The body of a SIP message, line ends normalised to LF. */
export function sdpOfMessage(message: string): string {
  const at = message.indexOf("\r\n\r\n");
  return (at < 0 ? "" : message.slice(at + 4)).replace(/\r\n/g, "\n");
}

/** Connection address and audio port an SDP names. */
export function audioOf(sdp: string): { address: string; port: number } {
  const address = /^c=IN IP[46] (\S+)$/m.exec(sdp)?.[1];
  const port = /^m=audio (\d+) /m.exec(sdp)?.[1];
  if (!address || !port) throw new Error(`no audio address in SDP:\n${sdp}`);
  return { address, port: Number(port) };
}
