import { randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { CheckSpec, DestinationConfig } from "../config/agent-config.js";
import { readSecret } from "../config/secrets.js";
import { issueProbeToken } from "../results/probe-token.js";
import type { IdentityCheck, SipCallResult } from "../results/result.js";
import { runTestCall, type TestCallOptions, type TestCallResult } from "../sip/test-call.js";
import type { Probe, ProbeRun } from "./probe.js";

export interface SipCallProbeContext {
  readonly agent: string;
  /** Agent number and secret to sign tokens with (the answering point checks them). */
  readonly signing: { readonly number: number; readonly secret: string } | undefined;
  readonly logger: Logger;
}

/** Whether the identity text the far end returned names what we expect. */
export function checkIdentity(expected: string | undefined, text: string | null | undefined): IdentityCheck {
  if (expected === undefined) return "not_checked";
  if (!text) return "absent";
  return text.toLowerCase().includes(expected.toLowerCase()) ? "ok" : "mismatch";
}

/**
 * A SIP test call over one provider path to one destination. Everything that can go wrong on our
 * side (a secret file gone, a bad local address) ends as `probe_error`, so it is never counted
 * against the provider.
 */
export class SipCallProbe implements Probe {
  readonly kind = "sip_call";
  readonly check: string;

  constructor(
    private readonly spec: CheckSpec,
    private readonly ctx: SipCallProbeContext,
    /** The destination actually called (a fallback of the check's own, for fallback runs). */
    private readonly destination: DestinationConfig = spec.destination,
  ) {
    this.check = destination === spec.destination ? spec.name : `${spec.path.id}.${destination.id}`;
  }

  async run(run: ProbeRun): Promise<SipCallResult> {
    const startedAt = new Date();
    const id = randomUUID();
    let call: TestCallResult;
    try {
      call = await runTestCall(this.options(run.signal));
    } catch (e) {
      call = probeErrorResult(
        this.destination.uri,
        this.spec.path.transport,
        (e as Error).message,
        startedAt,
      );
    }
    const identity =
      call.outcome === "answered"
        ? checkIdentity(this.destination.expectIdentity, call.farEnd?.text)
        : "not_checked";
    const mediaAsked = this.spec.media !== "none";
    const success = call.success && (identity === "ok" || identity === "not_checked");
    const p = this.spec.path;
    return {
      kind: "sip_call",
      id,
      agent: this.ctx.agent,
      check: this.check,
      provider: p.provider,
      path: p.id,
      access: p.access,
      transport: p.transport,
      destination: this.destination.id,
      role: run.attempt === "fallback" ? "fallback" : this.destination.role,
      attempt: run.attempt,
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      success,
      outcome: call.outcome,
      reason:
        call.outcome === "answered" && !success
          ? identity === "mismatch" || identity === "absent"
            ? `answered by the wrong far end: identity ${identity} (expected "${this.destination.expectIdentity}")`
            : `answered, but media ${call.media?.verdict ?? "none"}: ${call.media?.reason ?? "no media"}`
          : call.reason,
      verification: { media: mediaAsked ? (call.media?.verdict ?? null) : null, identity },
      call,
    };
  }

  /** Test-call options for this path and destination; secrets are read fresh for every call. */
  private options(signal: AbortSignal): TestCallOptions {
    const p = this.spec.path;
    const where = `paths[${p.id}]`;
    const credentials = p.credentials
      ? {
          username: p.credentials.username,
          password: readSecret(p.credentials.password, `${where}.credentials.password`),
        }
      : undefined;
    const token = this.ctx.signing
      ? issueProbeToken(this.ctx.signing.number, p.number, this.ctx.signing.secret)
      : String(randomInt(0, 1e10)).padStart(10, "0");
    const tlsFile = (f: string | undefined) => (f ? readFileSync(f, "utf8") : undefined);
    const tls = p.tls
      ? {
          verify: p.tls.verify,
          ...(p.tls.caFile ? { ca: tlsFile(p.tls.caFile)! } : {}),
          ...(p.tls.certFile ? { cert: tlsFile(p.tls.certFile)! } : {}),
          ...(p.tls.keyFile ? { key: tlsFile(p.tls.keyFile)! } : {}),
        }
      : { verify: true };
    return {
      target: this.destination.uri,
      transport: p.transport,
      ...(p.proxy ? { proxy: p.proxy } : {}),
      ...(p.from ? { from: p.from } : {}),
      ...(credentials ? { credentials } : {}),
      ...(p.callerId ? { pAssertedIdentity: `tel:${p.callerId}` } : {}),
      token,
      headers: p.headers,
      media: this.spec.media,
      holdSeconds: this.spec.holdSeconds,
      ringTimeoutSeconds: this.spec.ringTimeoutSeconds,
      timeoutSeconds: this.spec.timeoutSeconds,
      ...(p.localAddress ? { localAddress: p.localAddress } : {}),
      tls,
      userAgent: `probe112/${this.ctx.agent}`,
      logger: this.ctx.logger.child({ check: this.check }),
      signal,
    };
  }
}

/** A result for a call that could not even be set up on our side. */
function probeErrorResult(
  target: string,
  transport: "udp" | "tcp" | "tls",
  reason: string,
  startedAt: Date,
): TestCallResult {
  return {
    outcome: "probe_error",
    reason,
    finalStatus: null,
    finalReason: null,
    target,
    transport,
    proxy: null,
    callId: null,
    token: "",
    startedAt: startedAt.toISOString(),
    local: null,
    remote: null,
    timings: {
      firstResponse: null,
      srd: null,
      answer: null,
      sdd: null,
      duration: null,
      connect: null,
      total: 0,
    },
    retransmissions: { sent: {}, received: 0 },
    authChallenges: 0,
    hangup: null,
    byeStatus: null,
    media: null,
    success: false,
    holdSeconds: null,
    farEnd: null,
    dropped: [],
    trace: [],
  };
}
