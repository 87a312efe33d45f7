import net from "node:net";
import tls from "node:tls";
import { HopResolver, nextHopUri } from "./next-hop.js";
import { headerValues, parseSipMessage, type SipMessageView } from "./sip-message.js";
import { FramingError, SipStreamFramer } from "./stream-framer.js";
import { monotonicMs } from "./trace.js";
import {
  formatAddress,
  type InboundMeta,
  SipTransportBase,
  SipTransportError,
  type TransportCommonOptions,
} from "./transport-base.js";
import { transactionKey } from "./udp-reliability.js";
import { parseVia, socketHost, uriHost, viaParam } from "./via.js";

export interface TlsSettings {
  /** PEM CA bundle to verify the peer with; the system store when absent. */
  readonly ca?: string | Buffer;
  /** Verify the peer certificate and name. Only an explicit user choice turns this off. */
  readonly verify: boolean;
  /** Our certificate and key, for mutual TLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /**
   * Server role: "required" refuses clients without a certificate from `ca` at the handshake;
   * "optional" asks for one and lets the application decide (mutual TLS as one way in of several).
   */
  readonly clientCert?: "none" | "optional" | "required";
}

export interface StreamTransportOptions extends TransportCommonOptions {
  readonly protocol: "TCP" | "TLS";
  /** Client role: the first hop, connected by open(); `host` is the name to verify with TLS. */
  readonly peer?: { readonly address: string; readonly port: number; readonly host: string };
  /** Server role: where to accept connections. */
  readonly listen?: { readonly address: string; readonly port: number };
  /** Source address for outgoing connections. */
  readonly localAddress?: string;
  /** Address written in Via and Contact when it differs from the socket's. */
  readonly advertisedAddress?: string;
  readonly tls?: TlsSettings;
  readonly connectTimeoutMs?: number;
  readonly resolver?: HopResolver;
  /** Server role: connections closed after this long without traffic. */
  readonly idleTimeoutMs?: number;
  readonly maxConnections?: number;
}

interface Connection {
  readonly socket: net.Socket;
  readonly remote: string;
  readonly local: string;
  readonly localPort: number;
  readonly outbound: boolean;
  lastError?: NodeJS.ErrnoException;
}

const DEFAULT_MAX_STREAM_MESSAGE = 64 * 1024;
const RESPONSE_ROUTE_TTL_MS = 64 * 500;

/**
 * SIP over TCP or TLS for SIP.js (RFC 3261 §18): connection reuse per peer, Content-Length framing,
 * responses on the connection their request came in on, and TLS verification on by default.
 * One transport can act as a client (a prober's connection to its first hop) and as a server.
 */
export class StreamTransport extends SipTransportBase {
  readonly protocol: "TCP" | "TLS";
  private readonly connections = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<Connection>>();
  private readonly responseRoutes = new Map<string, { conn: Connection; expires: number }>();
  private readonly resolver: HopResolver;
  private server: net.Server | undefined;
  private primary: Connection | undefined;
  private opening: Promise<void> | undefined;
  private advertised = "";
  private listenPort = 0;
  private closing = false;

  constructor(private readonly opts: StreamTransportOptions) {
    super(opts);
    this.protocol = opts.protocol;
    this.resolver = opts.resolver ?? new HopResolver({ dns: opts.dns, family: opts.family });
  }

  get viaHost(): string {
    if (!this.advertised) throw new Error(`${this.protocol} transport not open yet`);
    return uriHost(this.advertised);
  }

  /** Local port to advertise in Contact: the listening port, else the first hop connection's. */
  get contactPort(): number {
    return this.listenPort || this.primary?.localPort || 0;
  }

  /** The first hop connection's addresses, once open. */
  get primaryConnection(): { local: string; remote: string } | undefined {
    return this.primary ? { local: this.primary.local, remote: this.primary.remote } : undefined;
  }

  open(): Promise<void> {
    this.opening ??= this.start().catch((e) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  private async start(): Promise<void> {
    this.closing = false;
    if (this.opts.listen) await this.startServer(this.opts.listen);
    if (this.opts.peer) {
      const { address, port, host } = this.opts.peer;
      this.primary = await this.connectTo(address, port, host);
    }
    const fromSocket = this.opts.listen?.address ?? this.primary?.socket.localAddress ?? "127.0.0.1";
    this.advertised = this.opts.advertisedAddress ?? unmapV4(fromSocket);
  }

  private startServer(at: { address: string; port: number }): Promise<void> {
    const onConnection = (socket: net.Socket) => this.adopt(socket, false);
    const server =
      this.protocol === "TLS"
        ? tls.createServer(
            {
              cert: this.opts.tls?.cert,
              key: this.opts.tls?.key,
              ca: this.opts.tls?.ca,
              requestCert: (this.opts.tls?.clientCert ?? "none") !== "none",
              rejectUnauthorized: this.opts.tls?.clientCert === "required",
              minVersion: "TLSv1.2",
            },
            onConnection,
          )
        : net.createServer(onConnection);
    server.maxConnections = this.opts.maxConnections ?? 1024;
    server.on("tlsClientError", (e: Error) =>
      this.common.logger.info({ err: e.message }, "TLS handshake from a client failed"),
    );
    server.on("error", (e) => this.common.logger.warn({ err: e.message }, `${this.protocol} server error`));
    return new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at.port, at.address, () => {
        server.off("error", reject);
        this.server = server;
        const addr = server.address() as net.AddressInfo;
        this.listenPort = addr.port;
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      throw new SipTransportError(
        `cannot listen on ${this.protocol} ${formatAddress(at.address, at.port)}: ${e.code ?? e.message}`,
        e.code,
      );
    });
  }

  /** Opens (or reuses) a connection to address:port; `host` names the peer for TLS checks. */
  private connectTo(address: string, port: number, host: string): Promise<Connection> {
    const key = formatAddress(address, port);
    const existing = this.connections.get(key);
    if (existing && !existing.socket.destroyed) return Promise.resolve(existing);
    let pending = this.connecting.get(key);
    if (!pending) {
      pending = this.dial(address, port, host).finally(() => this.connecting.delete(key));
      this.connecting.set(key, pending);
    }
    return pending;
  }

  private dial(address: string, port: number, host: string): Promise<Connection> {
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    const where = formatAddress(address, port);
    return new Promise((resolve, reject) => {
      const base = {
        host: address,
        port,
        ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
      };
      let socket: net.Socket;
      const ready = () => {
        clearTimeout(timer);
        socket.off("error", failed);
        resolve(this.adopt(socket, true));
      };
      const failed = (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new SipTransportError(describeConnectError(this.protocol, where, e), e.code));
      };
      if (this.protocol === "TLS") {
        const t = this.opts.tls ?? { verify: true };
        socket = tls.connect(
          {
            ...base,
            // SNI and name checks use the name we were asked to reach, never the resolved IP.
            servername: net.isIP(host) ? undefined : host,
            checkServerIdentity: (_h, cert) => tls.checkServerIdentity(host, cert),
            ca: t.ca,
            cert: t.cert,
            key: t.key,
            rejectUnauthorized: t.verify,
            minVersion: "TLSv1.2",
          },
          ready,
        );
      } else {
        socket = net.connect(base, ready);
      }
      socket.once("error", failed);
      const timer = setTimeout(() => {
        failed(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
      }, timeoutMs);
    });
  }

  /** Takes a connected socket into the registry and starts framing it. */
  private adopt(socket: net.Socket, outbound: boolean): Connection {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const remote = formatAddress(unmapV4(socket.remoteAddress ?? "?"), socket.remotePort ?? 0);
    const localAddress = unmapV4(socket.localAddress ?? "?");
    const conn: Connection = {
      socket,
      remote,
      local: formatAddress(this.opts.advertisedAddress ?? localAddress, socket.localPort ?? 0),
      localPort: socket.localPort ?? 0,
      outbound,
    };
    this.connections.set(remote, conn);
    if (!outbound && this.opts.idleTimeoutMs) {
      socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    }
    let at = 0;
    const framer = new SipStreamFramer(
      (bytes) => this.onFramed(conn, bytes, at),
      () => socket.write("\r\n"),
      this.common.maxMessageBytes ?? DEFAULT_MAX_STREAM_MESSAGE,
    );
    socket.on("data", (chunk: Buffer) => {
      at = monotonicMs();
      try {
        framer.push(chunk);
      } catch (e) {
        const detail = e instanceof FramingError ? e.message : String(e);
        this.drop(at, "framing", detail, chunk.toString("latin1"), chunk.length, conn.local, conn.remote);
        socket.destroy(
          new SipTransportError(`${this.protocol} stream from ${conn.remote} unusable: ${detail}`, "EPROTO"),
        );
      }
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      this.common.logger.info({ remote, err: e.message }, `${this.protocol} connection error`);
      conn.lastError = e;
    });
    socket.on("close", () => {
      if (this.connections.get(remote) === conn) this.connections.delete(remote);
      if (conn === this.primary && !this.closing) {
        const e = conn.lastError;
        // Our own verdict on the stream (a framing fault) already says what went wrong.
        if (e instanceof SipTransportError) {
          this.fail(e);
          return;
        }
        const how = describeLoss(this.protocol, e);
        this.fail(
          new SipTransportError(`${this.protocol} connection to ${remote} ${how}`, e?.code ?? "ECONNCLOSED"),
        );
      }
    });
    return conn;
  }

  private onFramed(conn: Connection, bytes: Buffer, at: number): void {
    const remoteAddress = unmapV4(conn.socket.remoteAddress ?? "");
    const got = this.receive(
      at,
      bytes.toString("utf8"),
      bytes.length,
      remoteAddress,
      conn.socket.remotePort ?? 0,
      conn.local,
    );
    if (!got) return;
    if (got.view.kind === "request") {
      const key = transactionKey(got.view);
      if (key) this.rememberResponseRoute(key, conn, at);
    }
    this.deliver(got.text, { transport: this.protocol, remote: conn.remote, ...tlsClientOf(conn.socket) });
  }

  private rememberResponseRoute(key: string, conn: Connection, now: number): void {
    this.responseRoutes.set(key, { conn, expires: now + RESPONSE_ROUTE_TTL_MS });
    if (this.responseRoutes.size > 4096) {
      for (const [k, v] of this.responseRoutes) if (v.expires < now) this.responseRoutes.delete(k);
    }
  }

  protected async close(): Promise<void> {
    this.closing = true;
    this.opening = undefined;
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    this.responseRoutes.clear();
    this.primary = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected async transmit(message: string, view: SipMessageView): Promise<void> {
    let conn: Connection;
    let wire = message;
    if (view.kind === "request") {
      const uri = nextHopUri(view);
      if (!uri) throw new SipTransportError(`no usable next hop for ${view.method} ${view.requestUri}`);
      const hop = await this.resolver.resolve(uri, this.protocol === "TLS" ? "tls" : "tcp");
      conn = await this.connectTo(hop.address, hop.port, hop.host);
      // sent-by names where we accept connections, or the connection's own port as a client.
      wire = this.stampOutgoingVia(message, this.listenPort || conn.localPort);
    } else {
      conn = await this.connectionForResponse(view);
    }
    const at = monotonicMs();
    await new Promise<void>((resolve, reject) => {
      conn.socket.write(wire, (err) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          reject(
            new SipTransportError(
              `${this.protocol} write to ${conn.remote} failed: ${code ?? err.message}`,
              code,
            ),
          );
        } else resolve();
      });
    });
    const sent = wire === message ? view : parseSipMessage(wire);
    if (sent.kind !== "error") this.traceSent(at, wire, sent, conn.local, conn.remote);
  }

  /** RFC 3261 §18.2.2: the request's connection if still open, else a new one to the Via. */
  private async connectionForResponse(view: SipMessageView): Promise<Connection> {
    const key = transactionKey(view);
    const known = key ? this.responseRoutes.get(key) : undefined;
    if (known && !known.conn.socket.destroyed) return known.conn;
    const via = parseVia(headerValues(view, "via")[0] ?? "");
    if (!via) throw new SipTransportError("response without a usable Via");
    const host = socketHost(viaParam(via, "received") ?? via.host);
    const rport = viaParam(via, "rport");
    const port = rport ? Number(rport) : (via.port ?? (this.protocol === "TLS" ? 5061 : 5060));
    const existing = this.connections.get(formatAddress(host, port));
    if (existing && !existing.socket.destroyed) return existing;
    return this.connectTo(host, port, socketHost(via.host));
  }
}

/**
 * Why a connection ended, in words. Under TLS 1.3 a server's refusal of our client certificate
 * arrives as an alert after the handshake seemed complete, so it shows up here, not at connect.
 */
function describeLoss(protocol: string, e: NodeJS.ErrnoException | undefined): string {
  if (!e) return "closed by peer";
  if (e.code === "ECONNRESET") return "reset by peer";
  if (
    protocol === "TLS" &&
    /ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE)/.test(e.code ?? "")
  ) {
    return `refused our TLS client certificate (${e.code}; give one with --tls-cert/--tls-key)`;
  }
  return `lost (${e.code ?? e.message})`;
}

/** A TLS client's certificate status, as an answering point needs it for mutual TLS. */
function tlsClientOf(socket: net.Socket): Pick<InboundMeta, "tlsClient"> {
  if (!(socket instanceof tls.TLSSocket)) return {};
  const cert = socket.getPeerCertificate();
  const cn = cert && typeof cert.subject?.CN === "string" ? cert.subject.CN : undefined;
  return { tlsClient: { authorized: socket.authorized && Boolean(cert?.raw), subject: cn } };
}

function unmapV4(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

function describeConnectError(protocol: string, where: string, e: NodeJS.ErrnoException): string {
  const code = e.code ?? "";
  if (
    protocol === "TLS" &&
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|HOSTNAME|ISSUER/.test(code + e.message)
  ) {
    return `TLS certificate of ${where} rejected: ${e.message} (give the CA with --tls-ca, or check the name)`;
  }
  if (code === "ECONNREFUSED") return `${protocol} connection to ${where} refused`;
  if (code === "ETIMEDOUT") return `${protocol} connection to ${where} timed out`;
  return `${protocol} connection to ${where} failed: ${code || e.message}`;
}
