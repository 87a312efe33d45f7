import { networkInterfaces } from "node:os";
import type { Logger } from "pino";
import type { ListenAddress } from "../config/common-schema.js";
import type { AgentEntry } from "../config/responder-config.js";
import type { ResponderMetrics } from "../metrics/responder-metrics.js";
import type { Journal } from "../results/journal.js";
import { DigestVerifier } from "../sip/digest-server.js";
import type { MediaMode } from "../sip/session-description-handler.js";
import { StreamTransport } from "../sip/stream-transport.js";
import type { SipTransportBase } from "../sip/transport-base.js";
import { SipUas } from "../sip/uas.js";
import { UdpTransport } from "../sip/udp-transport.js";
import { uriHost } from "../sip/via.js";
import { AccessPolicy } from "./access-policy.js";
import { CidrSet } from "./cidr-set.js";
import { RateLimiter } from "./rate-limiter.js";
import { handleTestCall } from "./test-call-handler.js";

export interface ResponderOptions {
  readonly name: string;
  readonly listen: readonly ListenAddress[];
  readonly advertisedAddress?: string | undefined;
  readonly tls?:
    | { cert: string; key: string; ca?: string; clientCert: "none" | "optional" | "required" }
    | undefined;
  readonly destinations: readonly string[];
  readonly ringMs: number;
  readonly holdSeconds: number;
  readonly media: MediaMode;
  readonly maxConcurrent: number;
  /** Test calls one caller may hold at once; a quarter of maxConcurrent when absent. */
  readonly maxConcurrentPerCaller?: number | undefined;
  readonly perCallerPerMinute: number;
  readonly allow: readonly string[];
  readonly agents: ReadonlyArray<{ agent: AgentEntry; secret: string }>;
  readonly digest?: { realm: string; users: ReadonlyMap<string, string> } | undefined;
  readonly journal: Journal | undefined;
  readonly metrics: ResponderMetrics;
  readonly logger: Logger;
}

/** One bound listener: what it is and where it ended up (port 0 picks one). */
export interface BoundListener {
  readonly protocol: "udp" | "tcp" | "tls";
  readonly address: string;
  readonly port: number;
}

/**
 * The answering point: one transport and one user agent server per listener, sharing the test
 * policy, limits, metrics and journal. It never forwards or relays anything.
 */
export class Responder {
  private constructor(
    private readonly parts: ReadonlyArray<{ transport: SipTransportBase; uas: SipUas; bound: BoundListener }>,
    private readonly active: { count: number },
  ) {}

  /** Where the answering point listens. */
  get listeners(): BoundListener[] {
    return this.parts.map((p) => p.bound);
  }

  /** Test calls in progress. */
  get activeCalls(): number {
    return this.active.count;
  }

  /** Open transactions and dialogs over all listeners (for memory checks). */
  get state(): { transactions: number; dialogs: number } {
    return this.parts.reduce(
      (s, p) => ({
        transactions: s.transactions + p.uas.size.transactions,
        dialogs: s.dialogs + p.uas.size.dialogs,
      }),
      { transactions: 0, dialogs: 0 },
    );
  }

  /** Binds every listener and starts answering. */
  static async start(o: ResponderOptions): Promise<Responder> {
    const policy = new AccessPolicy(
      o.agents,
      new CidrSet(o.allow),
      o.digest ? new DigestVerifier(o.digest.realm, o.digest.users) : undefined,
    );
    const rate = new RateLimiter(o.perCallerPerMinute);
    const active = { count: 0 };
    const perCaller = new Map<string, number>();
    const maxConcurrentPerCaller = o.maxConcurrentPerCaller ?? Math.max(1, Math.floor(o.maxConcurrent / 4));
    const parts: Array<{ transport: SipTransportBase; uas: SipUas; bound: BoundListener }> = [];
    try {
      for (const l of o.listen) {
        const logger = o.logger.child({ listener: `${l.protocol}:${uriHost(l.host)}:${l.port}` });
        const common = {
          logger,
          forSipJs: false,
          onDrop: (reason: string) => o.metrics.dropped.inc({ transport: l.protocol, reason }),
          advertisedAddress: o.advertisedAddress ?? (isWildcard(l.host) ? defaultAddress(l.host) : undefined),
        };
        let transport: SipTransportBase;
        if (l.protocol === "udp") {
          transport = new UdpTransport({ ...common, localAddress: l.host, localPort: l.port });
        } else {
          if (l.protocol === "tls" && !o.tls)
            throw new Error(`listener tls:${l.host}:${l.port} needs a TLS certificate and key`);
          transport = new StreamTransport({
            ...common,
            protocol: l.protocol === "tls" ? "TLS" : "TCP",
            listen: { address: l.host, port: l.port },
            ...(o.tls
              ? {
                  tls: {
                    verify: true,
                    cert: o.tls.cert,
                    key: o.tls.key,
                    ...(o.tls.ca ? { ca: o.tls.ca } : {}),
                    clientCert: o.tls.clientCert,
                  },
                }
              : {}),
            idleTimeoutMs: 300_000,
          });
        }
        await transport.connect();
        const port =
          transport instanceof UdpTransport
            ? transport.localAddress.port
            : (transport as StreamTransport).contactPort;
        const host = transport.viaHost;
        const ctx = {
          name: o.name,
          destinations: o.destinations,
          ringMs: o.ringMs,
          holdSeconds: o.holdSeconds,
          media: o.media,
          mediaAddress: host.replace(/^\[|\]$/g, ""),
          maxConcurrent: o.maxConcurrent,
          maxConcurrentPerCaller,
          perCaller,
          policy,
          rate,
          metrics: o.metrics,
          journal: o.journal,
          logger,
          active,
        };
        const uas = new SipUas({
          transport,
          contact: `sip:responder@${host}:${port};transport=${l.protocol}`,
          userAgent: "probe112-responder",
          logger,
          onInvite: (inv) => {
            handleTestCall(ctx, inv).catch((e: Error) => {
              logger.error({ err: e.message, callId: inv.callId }, "test call handling failed");
              if (!inv.answered) inv.reject(500);
            });
          },
          onOptions: () => {
            o.metrics.options.inc();
            return { status: 200 };
          },
          onRefused: (reason) => {
            if (reason === "overload" || reason === "method_not_allowed") o.metrics.rejects.inc({ reason });
          },
        });
        parts.push({ transport, uas, bound: { protocol: l.protocol, address: l.host, port } });
      }
    } catch (e) {
      for (const p of parts) await p.transport.disconnect().catch(() => {});
      throw e;
    }
    return new Responder(parts, active);
  }

  /** Hangs up what is open, then closes every listener. */
  async stop(): Promise<void> {
    for (const p of this.parts) await p.uas.close();
    for (const p of this.parts) await p.transport.disconnect().catch(() => {});
  }
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

/** For a wildcard listener without an advertised address: the first external address of that family. */
function defaultAddress(wildcard: string): string {
  const v6 = wildcard === "::";
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && (a.family === "IPv6") === v6) return a.address;
  }
  return v6 ? "::1" : "127.0.0.1";
}
