import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { Core, type Emitter, EmitterImpl, type Transport, TransportState } from "sip.js";
import type { DnsApi } from "./resolve.js";
import {
  cseqOf,
  headerValue,
  headerValues,
  parseSipMessage,
  printable,
  replaceFirstHeaderValue,
  type SipMessageView,
} from "./sip-message.js";
import { RecentMessages, type RetransmitTimer, type TraceEntry, type TraceSink } from "./trace.js";
import { formatVia, parseVia, uriHost, type Via, viaParam, withViaParam } from "./via.js";

/** Bounded reasons a received message is dropped before the SIP stack sees it (a metric label). */
export type DropReason =
  | "unparseable"
  | "truncated"
  | "multiple_via"
  | "foreign_via"
  | "oversized"
  | "framing"
  | "stack_rejected";

/** What the transport knows of the sender of a message. */
export interface InboundMeta {
  readonly transport: "UDP" | "TCP" | "TLS";
  /** "ip:port" of the sender. */
  readonly remote: string;
  /** For TLS: whether the client presented a certificate our CA verified, and its subject CN. */
  readonly tlsClient?: { readonly authorized: boolean; readonly subject: string | undefined };
}

/** An address as "ip:port", IPv6 in brackets. */
export function formatAddress(address: string, port: number): string {
  return `${uriHost(address)}:${port}`;
}

export interface TransportCommonOptions {
  readonly logger: Logger;
  /** Receives every message that crosses the socket, both ways. */
  readonly trace?: TraceSink;
  /** Called for each dropped message, for counters. */
  readonly onDrop?: (reason: DropReason, detail: string, remote: string) => void;
  readonly dns?: DnsApi;
  /** Restrict name resolution to one IP family. */
  readonly family?: 0 | 4 | 6;
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes?: number;
  /**
   * The messages go to SIP.js (the default): check that its parser takes them and adapt them to
   * its quirks. Our own answering point reads every message itself and turns this off.
   */
  readonly forSipJs?: boolean;
}

/** Raised when sending fails; SIP.js turns it into an internal 503, we into `transport_error`. */
export class SipTransportError extends Core.TransportError {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const GARBAGE_TRACE_CAP = 2048;
const DRAIN_MS = 500;

/**
 * What every SIP.js transport of ours shares: the state machine SIP.js expects (api/transport.ts),
 * the RFC 3261 §18.2.1 receive pipeline (validate, stamp received/rport, check the Via of
 * responses) and the trace of every message at the socket.
 */
export abstract class SipTransportBase implements Transport {
  abstract readonly protocol: "UDP" | "TCP" | "TLS";
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  /** For consumers other than SIP.js: each message with what the connection knows of its sender. */
  onInbound: ((message: string, meta: InboundMeta) => void) | undefined;

  private _state = TransportState.Disconnected;
  private readonly inflight = new Set<Promise<void>>();
  private readonly _stateChange = new EmitterImpl<TransportState>();
  private readonly recentIn = new RecentMessages();
  private readonly recentOut = new RecentMessages();
  private readonly stackLogger: Core.Logger;
  private stackComplaint = "";
  /** Host written in Via sent-by and Contact; must equal the UA's `viaHost`. */
  abstract readonly viaHost: string;

  private readonly forSipJs: boolean;

  protected constructor(protected readonly common: TransportCommonOptions) {
    this.forSipJs = common.forSipJs ?? true;
    const note = (s: string) => {
      this.stackComplaint = s;
    };
    this.stackLogger = { error: note, warn: note, log: () => {}, debug: () => {} } as unknown as Core.Logger;
  }

  get state(): TransportState {
    return this._state;
  }

  get stateChange(): Emitter<TransportState> {
    return this._stateChange;
  }

  isConnected(): boolean {
    return this._state === TransportState.Connected;
  }

  /** Binds or connects the sockets; safe to call before the UA exists, and again after. */
  abstract open(): Promise<void>;
  /** Closes every socket and cancels every timer. */
  protected abstract close(): Promise<void>;
  /** Puts one message on the wire. */
  protected abstract transmit(message: string, view: SipMessageView): Promise<void>;

  async connect(): Promise<void> {
    if (this._state === TransportState.Connected) return;
    this.transition(TransportState.Connecting);
    try {
      await this.open();
    } catch (e) {
      this.transition(TransportState.Disconnected, e as Error);
      throw e;
    }
    this.transition(TransportState.Connected);
  }

  async disconnect(): Promise<void> {
    // Messages SIP.js handed over just before (an ACK to a final response) still go out.
    await this.flush(DRAIN_MS);
    if (this._state === TransportState.Disconnected) {
      await this.close();
      return;
    }
    this.transition(TransportState.Disconnecting);
    await this.close();
    this.transition(TransportState.Disconnected);
  }

  dispose(): Promise<void> {
    return this.disconnect();
  }

  async send(message: string): Promise<void> {
    if (this._state !== TransportState.Connected) {
      throw new SipTransportError(`${this.protocol} transport is not connected`, "ENOTCONN");
    }
    const wire = withoutOutboundTokens(message);
    const view = parseSipMessage(wire);
    if (view.kind === "error") {
      throw new SipTransportError(`refusing to send an invalid message: ${view.reason}`);
    }
    const sending = this.transmit(wire, view);
    const tracked = sending.catch(() => {});
    this.inflight.add(tracked);
    try {
      await sending;
    } finally {
      this.inflight.delete(tracked);
    }
  }

  /** Waits (at most `ms`) for sends already under way. */
  async flush(ms: number): Promise<void> {
    if (this.inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.inflight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Marks the transport failed (a lost connection); SIP.js is told through onDisconnect. */
  protected fail(error: Error): void {
    if (this._state === TransportState.Connected) this.transition(TransportState.Disconnected, error);
  }

  private transition(next: TransportState, error?: Error): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    this._stateChange.emit(next);
    if (next === TransportState.Connected) this.onConnect?.();
    if (prev === TransportState.Connected) this.onDisconnect?.(error);
  }

  /**
   * Sets the top Via of an outgoing request to our real sent-by (RFC 3261 §18.1.1) and asks for
   * rport (RFC 3581): SIP.js writes the host alone, which would send replies to port 5060.
   */
  protected stampOutgoingVia(message: string, port: number): string {
    return replaceFirstHeaderValue(message, "via", (value) => {
      const via = parseVia(value);
      if (!via) return value;
      const withPort: Via = { ...via, port };
      return formatVia(
        viaParam(withPort, "rport") === undefined ? withViaParam(withPort, "rport", null) : withPort,
      );
    });
  }

  /** Records a sent message in the trace. `at` is taken just before the socket call. */
  protected traceSent(
    at: number,
    message: string,
    view: SipMessageView,
    local: string,
    remote: string,
    timer?: RetransmitTimer,
  ): void {
    const repeat = this.recentOut.check(digest(message), at);
    this.emitTrace(at, "sent", message, view, local, remote, repeat || timer !== undefined, timer);
  }

  /**
   * The receive pipeline of RFC 3261 §18.2.1 / §18.1.2. Returns the text to hand to SIP.js, or
   * undefined when the message was dropped (and traced and counted as such).
   */
  protected receive(
    at: number,
    text: string,
    bytes: number,
    remoteAddress: string,
    remotePort: number,
    local: string,
  ): { text: string; view: SipMessageView } | undefined {
    const remote = formatAddress(remoteAddress, remotePort);
    const view = parseSipMessage(text);
    if (view.kind === "error") {
      const reason: DropReason = /truncated/.test(view.reason) ? "truncated" : "unparseable";
      this.drop(at, reason, view.reason, text, bytes, local, remote);
      return undefined;
    }
    let out = text;
    if (view.kind === "request") {
      out = stampReceived(text, remoteAddress, remotePort);
    } else {
      const vias = headerValues(view, "via");
      if (vias.length !== 1) {
        this.drop(
          at,
          "multiple_via",
          `response with ${vias.length} Via values (RFC 3261 §8.1.3.3)`,
          text,
          bytes,
          local,
          remote,
          view,
        );
        return undefined;
      }
      const via = parseVia(vias[0]!);
      if (!via || via.host.toLowerCase() !== this.viaHost.toLowerCase()) {
        this.drop(
          at,
          "foreign_via",
          `response Via sent-by ${printable(vias[0] ?? "", 80)} is not ours`,
          text,
          bytes,
          local,
          remote,
          view,
        );
        return undefined;
      }
      // SIP.js drops responses whose Via carries a port (it never writes one); we wrote it.
      if (this.forSipJs)
        out = replaceFirstHeaderValue(text, "via", () => formatVia({ ...via, port: undefined }));
    }
    if (this.forSipJs) out = withSessionDisposition(out, view);
    this.stackComplaint = "";
    if (this.forSipJs && !Core.Parser.parseMessage(out, this.stackLogger)) {
      const detail = `SIP stack cannot parse it: ${printable(this.stackComplaint || "unknown reason", 120)}`;
      this.drop(at, "stack_rejected", detail, text, bytes, local, remote, view);
      return undefined;
    }
    const repeat = this.recentIn.check(digest(text), at);
    this.emitTrace(at, "received", text, view, local, remote, repeat);
    return { text: out, view };
  }

  /** Hands a message to SIP.js; a throw inside the stack must not unwind into a socket handler. */
  protected deliver(text: string, meta: InboundMeta): void {
    try {
      if (this.onInbound) this.onInbound(text, meta);
      else this.onMessage?.(text);
    } catch (e) {
      this.common.logger.error({ err: (e as Error).message }, "SIP stack failed on a received message");
    }
  }

  /** Traces and counts a dropped message; never throws. */
  protected drop(
    at: number,
    reason: DropReason,
    detail: string,
    text: string,
    bytes: number,
    local: string,
    remote: string,
    view?: SipMessageView,
  ): void {
    this.common.logger.warn({ remote, reason, detail }, "dropped an unusable SIP message");
    this.common.onDrop?.(reason, detail, remote);
    const capped = text.length > GARBAGE_TRACE_CAP ? `${text.slice(0, GARBAGE_TRACE_CAP)}…` : text;
    const firstLine = printable(text.split("\r\n", 1)[0] ?? "", 80);
    this.common.trace?.({
      at,
      direction: "received",
      transport: this.protocol,
      local,
      remote,
      summary: firstLine || "(empty)",
      ...(view ? describe(view) : {}),
      retransmission: false,
      bytes,
      message: capped,
      dropped: `${reason}: ${detail}`,
    });
  }

  private emitTrace(
    at: number,
    direction: "sent" | "received",
    message: string,
    view: SipMessageView,
    local: string,
    remote: string,
    retransmission: boolean,
    timer?: RetransmitTimer,
  ): void {
    const sink = this.common.trace;
    if (!sink) return;
    const entry: TraceEntry = {
      at,
      direction,
      transport: this.protocol,
      local,
      remote,
      summary:
        view.kind === "request"
          ? `${view.method} ${view.requestUri}`
          : `${view.status} ${view.reason}`.trim(),
      ...describe(view),
      retransmission,
      ...(timer ? { timer } : {}),
      bytes: Buffer.byteLength(message),
      message,
    };
    sink(entry);
  }
}

function describe(view: SipMessageView): Partial<TraceEntry> {
  const cseq = cseqOf(view);
  const via = parseVia(headerValues(view, "via")[0] ?? "");
  const branch = via ? viaParam(via, "branch") : undefined;
  return {
    ...(view.kind === "request" ? { method: view.method } : { status: view.status }),
    ...(cseq ? { cseq: cseq.seq, cseqMethod: cseq.method } : {}),
    ...(headerValue(view, "call-id") ? { callId: headerValue(view, "call-id") } : {}),
    ...(branch ? { branch } : {}),
  };
}

function digest(text: string): string {
  return createHash("sha1").update(text).digest("base64");
}

/** RFC 3261 §18.2.1 and RFC 3581 §4: tell the sender where its request really came from. */
export function stampReceived(text: string, address: string, port: number): string {
  return replaceFirstHeaderValue(text, "via", (value) => {
    const via = parseVia(value);
    if (!via) return value;
    let v = via;
    const rport = viaParam(via, "rport");
    const sentByIp = via.host.replace(/^\[|\]$/g, "");
    if (rport !== undefined || sentByIp.toLowerCase() !== address.toLowerCase())
      v = withViaParam(v, "received", address);
    if (rport !== undefined) v = withViaParam(v, "rport", String(port));
    return formatVia(v);
  });
}

/**
 * SIP.js always claims RFC 5626 outbound (";ob" in Contact, "Supported: outbound") although it
 * neither registers flows nor keeps them alive; an SBC that believes it would route by a flow
 * that does not exist. A probe must look like the plain UA it is.
 */
export function withoutOutboundTokens(text: string): string {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return text;
  const head = text
    .slice(0, headEnd)
    .split("\r\n")
    .flatMap((line) => {
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : "";
      if (name === "contact" || name === "m") return [line.replace(/;ob(?=[;>,\s]|$)/g, "")];
      if (name === "supported" || name === "k") {
        const tags = line
          .slice(colon + 1)
          .split(",")
          .map((t) => t.trim())
          .filter((t) => t && t.toLowerCase() !== "outbound");
        return tags.length > 0 ? [`${line.slice(0, colon)}: ${tags.join(", ")}`] : [];
      }
      return [line];
    })
    .join("\r\n");
  return head + text.slice(headEnd);
}

/**
 * SIP.js takes a body as a session description only when its disposition is "session", and it
 * derives "render" for every multipart body. An RFC 6881 answer (SDP plus a text/plain identity,
 * multipart/mixed) would then look like a 2xx without SDP. Marking such a body as session lets
 * the session description handler find the SDP part.
 */
export function withSessionDisposition(text: string, view: SipMessageView): string {
  const type = headerValue(view, "content-type")?.toLowerCase() ?? "";
  if (!type.startsWith("multipart/") || headerValue(view, "content-disposition") !== undefined) return text;
  if (!/content-type:\s*application\/sdp/i.test(view.body)) return text;
  const headEnd = text.indexOf("\r\n\r\n");
  return `${text.slice(0, headEnd)}\r\nContent-Disposition: session${text.slice(headEnd)}`;
}
