import dgram from "node:dgram";
import { type DatagramSocket, openDatagramSocket } from "./datagram-socket.js";
import { HopResolver, nextHopUri, responseDestination } from "./next-hop.js";
import { parseSipMessage, type SipMessageView } from "./sip-message.js";
import type { RetransmitTimer } from "./trace.js";
import {
  formatAddress,
  SipTransportBase,
  SipTransportError,
  type TransportCommonOptions,
} from "./transport-base.js";
import { type Destination, RFC3261_TIMERS, type SipTimerValues, UdpReliability } from "./udp-reliability.js";
import { uriHost } from "./via.js";

export interface UdpTransportOptions extends TransportCommonOptions {
  /** Address to bind; defaults to the wildcard of the peer's family. */
  readonly localAddress?: string;
  /** Port to bind; 0 (the default) picks a free one. */
  readonly localPort?: number;
  /** The first peer, used to choose the socket family and, when bound to a wildcard, our address. */
  readonly peerHint?: { readonly address: string; readonly port: number };
  /** Address written in Via and Contact when it differs from the bound one (e.g. behind static NAT). */
  readonly advertisedAddress?: string;
  readonly resolver?: HopResolver;
  readonly timers?: SipTimerValues;
}

/** RFC 3261 §18.1.1: above this a request should go over a congestion-controlled transport. */
const UDP_MTU_WARNING = 1300;
const DEFAULT_MAX_DATAGRAM = 32 * 1024;

/** SIP over UDP for SIP.js, with the RFC 3261 §17 retransmission timers SIP.js lacks on UDP. */
export class UdpTransport extends SipTransportBase {
  readonly protocol = "UDP";
  private socket: DatagramSocket | undefined;
  private opening: Promise<void> | undefined;
  private readonly reliability: UdpReliability;
  private readonly resolver: HopResolver;
  private local = { address: "", port: 0 };
  private advertised = "";

  constructor(private readonly opts: UdpTransportOptions) {
    super(opts);
    this.resolver = opts.resolver ?? new HopResolver({ dns: opts.dns, family: opts.family });
    this.reliability = new UdpReliability(
      (wire, dest, timer) => this.resend(wire, dest, timer),
      opts.timers ?? RFC3261_TIMERS,
    );
  }

  get viaHost(): string {
    if (!this.advertised) throw new Error("UDP transport not open yet");
    return uriHost(this.advertised);
  }

  /** The bound address and port. */
  get localAddress(): { address: string; port: number } {
    return { ...this.local };
  }

  open(): Promise<void> {
    this.opening ??= this.bind().catch((e) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  private async bind(): Promise<void> {
    const hint = this.opts.peerHint;
    const family = familyOf(this.opts.localAddress ?? hint?.address ?? "0.0.0.0");
    const bindAddress = this.opts.localAddress ?? (family === 6 ? "::" : "0.0.0.0");
    const socket = await openDatagramSocket({
      type: family === 6 ? "udp6" : "udp4",
      address: bindAddress,
      port: this.opts.localPort ?? 0,
      onMessage: (buf, remote, at) => this.onDatagram(buf, remote, at),
      // ICMP errors and the like must never take the process down.
      onError: (e) => this.common.logger.warn({ err: e.message }, "UDP socket error"),
    }).catch((e: NodeJS.ErrnoException) => {
      throw new SipTransportError(
        `cannot bind UDP ${formatAddress(bindAddress, this.opts.localPort ?? 0)}: ${e.code ?? e.message}`,
        e.code,
      );
    });
    this.socket = socket;
    this.local = { ...socket.local };
    const bound = socket.local;
    this.advertised = this.opts.advertisedAddress ?? (await this.sourceAddressFor(bound.address, hint));
  }

  /** With a wildcard bind, the address the kernel would use towards the peer. */
  private async sourceAddressFor(bound: string, hint: UdpTransportOptions["peerHint"]): Promise<string> {
    if (bound !== "0.0.0.0" && bound !== "::") return bound;
    if (!hint) return bound === "::" ? "::1" : "127.0.0.1";
    const probe = dgram.createSocket(familyOf(hint.address) === 6 ? "udp6" : "udp4");
    try {
      await new Promise<void>((resolve, reject) => {
        probe.once("error", reject);
        probe.connect(hint.port, hint.address, () => resolve());
      });
      return probe.address().address;
    } finally {
      probe.close();
    }
  }

  protected async close(): Promise<void> {
    this.reliability.stopAll();
    const s = this.socket;
    this.socket = undefined;
    this.opening = undefined;
    if (s) await s.close();
  }

  protected async transmit(message: string, view: SipMessageView): Promise<void> {
    let dest: Destination;
    let wire = message;
    if (view.kind === "request") {
      const uri = nextHopUri(view);
      if (!uri) throw new SipTransportError(`no usable next hop for ${view.method} ${view.requestUri}`);
      const hop = await this.resolver.resolve(uri, "udp");
      dest = { host: hop.address, port: hop.port };
      wire = this.stampOutgoingVia(message, this.local.port);
    } else {
      const d = responseDestination(view);
      if (!d) throw new SipTransportError("response without a usable Via");
      dest = d;
    }
    const bytes = Buffer.byteLength(wire);
    if (bytes > UDP_MTU_WARNING) {
      this.common.logger.warn(
        { bytes },
        "SIP message over 1300 bytes on UDP may be fragmented (RFC 3261 §18.1.1)",
      );
    }
    const at = await this.sendDatagram(wire, dest);
    const sent = wire === message ? view : parseSipMessage(wire);
    if (sent.kind === "error") return;
    this.traceSent(at, wire, sent, this.localLabel(), formatAddress(dest.host, dest.port));
    this.reliability.onSent(sent, wire, dest);
  }

  private resend(wire: string, dest: Destination, timer: RetransmitTimer): void {
    this.sendDatagram(wire, dest).then(
      (at) => {
        const view = parseSipMessage(wire);
        if (view.kind !== "error")
          this.traceSent(at, wire, view, this.localLabel(), formatAddress(dest.host, dest.port), timer);
      },
      (e: Error) => this.common.logger.warn({ err: e.message, timer }, "retransmission failed"),
    );
  }

  /** Sends one datagram; resolves with the monotonic time taken just before the socket call. */
  private async sendDatagram(wire: string, dest: Destination): Promise<number> {
    const socket = this.socket;
    if (!socket) throw new SipTransportError("UDP transport closed", "ENOTCONN");
    try {
      return await socket.send(wire, dest.port, dest.host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SipTransportError(
        `UDP send to ${formatAddress(dest.host, dest.port)} failed: ${code ?? (e as Error).message}`,
        code,
      );
    }
  }

  private onDatagram(buf: Buffer, rinfo: { address: string; port: number }, at: number): void {
    const local = this.localLabel();
    const max = this.common.maxMessageBytes ?? DEFAULT_MAX_DATAGRAM;
    if (buf.length > max) {
      const head = buf.subarray(0, 2048).toString("latin1");
      this.drop(
        at,
        "oversized",
        `datagram of ${buf.length} bytes exceeds ${max}`,
        head,
        buf.length,
        local,
        formatAddress(rinfo.address, rinfo.port),
      );
      return;
    }
    // RFC 5626 keep-alives (CRLF) and stray whitespace carry no message.
    if (buf.every((b) => b === 13 || b === 10 || b === 32 || b === 9)) return;
    const got = this.receive(at, buf.toString("utf8"), buf.length, rinfo.address, rinfo.port, local);
    if (!got) return;
    this.reliability.onReceived(got.view);
    this.deliver(got.text, { transport: "UDP", remote: formatAddress(rinfo.address, rinfo.port) });
  }

  private localLabel(): string {
    return formatAddress(this.advertised || this.local.address, this.local.port);
  }
}

function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}
