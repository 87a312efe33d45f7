import type { Logger } from "pino";
import {
  type SessionDescriptionHandlerFactory,
  type Transport,
  UserAgent,
  type UserAgentOptions,
} from "sip.js";
import { applyRfc3261Timers } from "./timers.js";
import type { SipTransportBase } from "./transport-base.js";

export interface ProbeUserAgentOptions {
  /** An opened transport: its address must be known before the UA builds its Contact. */
  readonly transport: SipTransportBase;
  /** Our address of record (From), a sip: URI. */
  readonly aor: string;
  readonly displayName?: string;
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Outbound proxy as a preloaded Route (RFC 3261 §8.1.2), a sip: URI. */
  readonly outboundProxy?: string;
  /** Port to advertise in Contact. */
  readonly contactPort: number;
  readonly sessionDescriptionHandlerFactory: SessionDescriptionHandlerFactory;
  readonly userAgentString: string;
  readonly logger: Logger;
  /** UAS: answer 480 after this many seconds without an answer. */
  readonly noAnswerTimeoutSeconds?: number;
  readonly delegate?: UserAgentOptions["delegate"];
}

const LEVELS = ["error", "warn", "log", "debug"] as const;

/** Builds a SIP.js UserAgent that speaks through one of our transports. */
export function createUserAgent(opts: ProbeUserAgentOptions): UserAgent {
  applyRfc3261Timers();
  const uri = UserAgent.makeURI(opts.aor);
  if (!uri) throw new Error(`not a SIP URI: ${opts.aor}`);
  const transport = opts.transport;
  // SIP.js constructs its transport itself; hand it the instance we already opened.
  const transportConstructor = function ExistingTransport(): Transport {
    return transport;
  } as unknown as new (
    ...args: unknown[]
  ) => Transport;
  const sipLog = opts.logger.child({ component: "sip.js" });
  const ua = new UserAgent({
    uri,
    displayName: opts.displayName,
    transportConstructor,
    viaHost: transport.viaHost,
    forceRport: true,
    contactName: uri.user ?? "probe112",
    contactParams: { transport: transport.protocol.toLowerCase() },
    ...(opts.credentials
      ? { authorizationUsername: opts.credentials.username, authorizationPassword: opts.credentials.password }
      : {}),
    ...(opts.outboundProxy ? { preloadedRouteSet: [`<${withLr(opts.outboundProxy)}>`] } : {}),
    sessionDescriptionHandlerFactory: opts.sessionDescriptionHandlerFactory,
    userAgentString: opts.userAgentString,
    noAnswerTimeout: opts.noAnswerTimeoutSeconds ?? 60,
    logBuiltinEnabled: false,
    logConfiguration: false,
    logLevel: "debug",
    logConnector: (level, category, _label, content) => {
      const i = LEVELS.indexOf(level as (typeof LEVELS)[number]);
      // SIP.js is chatty about things we already report; keep its warnings at debug.
      if (i <= 0) sipLog.debug({ category }, content);
      else sipLog.trace({ category }, content);
    },
    delegate: opts.delegate,
  });
  ua.contact.uri.port = opts.contactPort;
  if (!opts.credentials) {
    // Without credentials SIP.js still answers a challenge, with the From user and no password;
    // a probe without credentials must report the challenge itself (auth_failure) instead.
    ua.userAgentCore.configuration.authenticationFactory = () => undefined;
  }
  return ua;
}

/** Adds the loose-route flag to a proxy URI (RFC 3261 §16.12.1.1) unless it already has it. */
export function withLr(proxyUri: string): string {
  return /;lr(?:[;=?]|$)/i.test(proxyUri) ? proxyUri : `${proxyUri};lr`;
}
