import type { AgentEntry } from "../config/responder-config.js";
import { parseProbeToken, verifyProbeToken } from "../results/probe-token.js";
import type { DigestVerifier } from "../sip/digest-server.js";
import { headerValue, type SipRequestView } from "../sip/sip-message.js";
import { PROBE_TOKEN_HEADER } from "../sip/test-call.js";
import type { InboundMeta } from "../sip/transport-base.js";
import type { CidrSet } from "./cidr-set.js";

/** How a token presented by a caller turned out. */
export type TokenState = "valid" | "invalid" | "replayed" | "unknown_agent" | "unsigned" | "absent";

/** Why a caller gets no test (a bounded metric label). */
export type RejectReason =
  | "not_served"
  | "forbidden_network"
  | "bad_token"
  | "bad_credentials"
  | "busy_concurrency"
  | "busy_caller"
  | "busy_rate"
  | "bad_sdp"
  | "overload"
  | "method_not_allowed";

/** Who a token says the caller is. */
export interface TokenIdentity {
  readonly state: TokenState;
  readonly token: string | undefined;
  readonly agent: AgentEntry | undefined;
  readonly path: string | undefined;
}

export type AccessDecision =
  | {
      readonly granted: true;
      readonly by: "token" | "network" | "mtls" | "digest";
      readonly identity: TokenIdentity;
    }
  | { readonly granted: false; readonly reason: RejectReason; readonly identity: TokenIdentity }
  | { readonly granted: false; readonly challenge: string; readonly identity: TokenIdentity };

const REPLAY_WINDOW_MS = 15 * 60_000;

/**
 * Who may have a test: a caller with a valid signed token, a caller from an allowed network (the
 * provider SBCs a test call reaches us through), a TLS client whose certificate our CA signed,
 * or one that answers a digest challenge. Everyone else gets 403. A token also identifies the
 * agent and path; one that fails its check is counted whatever the way in.
 */
export class AccessPolicy {
  private readonly byNumber = new Map<number, { agent: AgentEntry; secret: string }>();
  private readonly seen = new Map<string, number>();

  constructor(
    agents: ReadonlyArray<{ agent: AgentEntry; secret: string }>,
    private readonly allowed: CidrSet,
    private readonly digest: DigestVerifier | undefined,
  ) {
    for (const a of agents) this.byNumber.set(a.agent.number, a);
  }

  /** Reads and checks a token (from the header, or received in-band), without recording it as used. */
  identify(token: string | undefined): TokenIdentity {
    if (!token) return { state: "absent", token, agent: undefined, path: undefined };
    const fields = parseProbeToken(token);
    if (!fields) return { state: "unsigned", token, agent: undefined, path: undefined };
    const known = this.byNumber.get(fields.agent);
    const path = String(fields.path).padStart(2, "0");
    if (!known) return { state: "unknown_agent", token, agent: undefined, path };
    if (!verifyProbeToken(token, known.secret)) return { state: "invalid", token, agent: undefined, path };
    return { state: "valid", token, agent: known.agent, path };
  }

  /** Decides on an INVITE; records a valid token as used, so that a replay is refused. */
  decide(req: SipRequestView, source: string, meta: InboundMeta, now = Date.now()): AccessDecision {
    let identity = this.identify(headerValue(req, PROBE_TOKEN_HEADER.toLowerCase()));
    if (identity.state === "valid" && identity.token) {
      this.prune(now);
      if (this.seen.has(identity.token)) identity = { ...identity, state: "replayed", agent: undefined };
      else this.seen.set(identity.token, now);
    }
    if (identity.state === "valid") return { granted: true, by: "token", identity };
    if (this.allowed.has(source)) return { granted: true, by: "network", identity };
    if (meta.tlsClient?.authorized) return { granted: true, by: "mtls", identity };
    if (this.digest) {
      const auth = headerValue(req, "authorization");
      if (!auth) return { granted: false, challenge: this.digest.challenge(), identity };
      const r = this.digest.verify(auth, req.method, now);
      if (r.ok) return { granted: true, by: "digest", identity };
      if (r.reason === "stale") return { granted: false, challenge: this.digest.challenge(true), identity };
      return { granted: false, reason: "bad_credentials", identity };
    }
    const badToken = identity.state !== "absent" && identity.state !== "unsigned";
    return { granted: false, reason: badToken ? "bad_token" : "forbidden_network", identity };
  }

  private prune(now: number): void {
    if (this.seen.size < 1024) return;
    for (const [t, at] of this.seen) if (now - at > REPLAY_WINDOW_MS) this.seen.delete(t);
  }
}
