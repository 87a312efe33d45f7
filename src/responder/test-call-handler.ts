import type { Logger } from "pino";
import type { ResponderMetrics } from "../metrics/responder-metrics.js";
import type { Journal } from "../results/journal.js";
import { buildMultipart } from "../sip/multipart.js";
import { type MediaMode, ProbeSessionDescriptionHandler } from "../sip/session-description-handler.js";
import { headerValue } from "../sip/sip-message.js";
import { formatAddress } from "../sip/transport-base.js";
import type { IncomingInvite } from "../sip/uas.js";
import type { AccessPolicy, RejectReason, TokenIdentity } from "./access-policy.js";
import { checkCallerId } from "./caller-id.js";
import { matchDestination } from "./destinations.js";
import { identityBody, locationSummary } from "./identity-body.js";
import type { RateLimiter } from "./rate-limiter.js";

export interface HandlerContext {
  readonly name: string;
  readonly destinations: readonly string[];
  readonly ringMs: number;
  readonly holdSeconds: number;
  readonly media: MediaMode;
  readonly mediaAddress: string;
  readonly maxConcurrent: number;
  /** Test calls one caller (agent, else source address) may hold at once. */
  readonly maxConcurrentPerCaller: number;
  /** Shared across listeners: test calls in progress per caller. */
  readonly perCaller: Map<string, number>;
  readonly policy: AccessPolicy;
  readonly rate: RateLimiter;
  readonly metrics: ResponderMetrics;
  readonly journal: Journal | undefined;
  readonly logger: Logger;
  /** Shared across listeners: test calls in progress. */
  readonly active: { count: number };
}

const REJECT_STATUS: Readonly<Record<RejectReason, number>> = {
  not_served: 404,
  forbidden_network: 403,
  bad_token: 403,
  bad_credentials: 403,
  busy_concurrency: 486,
  busy_caller: 486,
  busy_rate: 486,
  bad_sdp: 488,
  overload: 503,
  method_not_allowed: 405,
};

/**
 * Answers one INVITE as RFC 6881 §15 asks a PSAP to answer a test call: 404 for what we do not
 * serve, 403 for callers without a way in, 486 when busy or over a caller's rate, else 200 with
 * the SDP answer and a text/plain identity part, media mirrored, and a BYE after the hold if the
 * caller has not hung up. Every call received ends in one journal line.
 */
export async function handleTestCall(ctx: HandlerContext, inv: IncomingInvite): Promise<void> {
  const req = inv.request;
  const receivedAt = new Date();
  const source = formatAddress(inv.source.address, inv.source.port);
  const base = { callId: inv.callId, source, transport: inv.meta.transport, requestUri: req.requestUri };
  const refuse = (reason: RejectReason, identity?: TokenIdentity, detail?: string) => {
    ctx.metrics.rejects.inc({ reason });
    inv.reject(REJECT_STATUS[reason], detail ? { headers: [`Warning: 399 probe112 "${detail}"`] } : {});
    void record(ctx, "rejected", {
      ...base,
      reason,
      status: REJECT_STATUS[reason],
      token: identity?.state ?? "absent",
      ...(detail ? { detail } : {}),
    });
  };

  const dest = matchDestination(req, ctx.destinations);
  if (!dest.served)
    return refuse("not_served", undefined, `${dest.requested} is not a test destination here`);
  const decision = ctx.policy.decide(req, inv.source.address, inv.meta);
  if (headerValue(req, "x-probe112-token")) ctx.metrics.token(decision.identity.state, "header");
  if (!decision.granted) {
    if ("challenge" in decision) {
      inv.reject(401, { headers: [`WWW-Authenticate: ${decision.challenge}`] });
      ctx.metrics.challenges.inc();
      void record(ctx, "challenged", { ...base, status: 401 });
      return;
    }
    return refuse(decision.reason, decision.identity);
  }
  // Per caller first: one caller (a flood, a stuck agent) must not take every slot from the others.
  const caller = decision.identity.agent?.id ?? inv.source.address;
  if (!ctx.rate.allow(caller, Date.now())) return refuse("busy_rate", decision.identity);
  if ((ctx.perCaller.get(caller) ?? 0) >= ctx.maxConcurrentPerCaller)
    return refuse("busy_caller", decision.identity);
  if (ctx.active.count >= ctx.maxConcurrent) return refuse("busy_concurrency", decision.identity);

  const digits: string[] = [];
  const sdh = new ProbeSessionDescriptionHandler({
    mediaAddress: ctx.mediaAddress,
    mode: ctx.media,
    cname: `responder@${ctx.mediaAddress}`,
    onDigit: (d) => digits.push(d),
  });
  try {
    if (!req.body) throw new Error("INVITE without an SDP offer (delayed offer is not supported)");
    await sdh.setDescription(req.body);
  } catch (e) {
    sdh.close();
    return refuse("bad_sdp", decision.identity, (e as Error).message);
  }

  ctx.active.count++;
  ctx.perCaller.set(caller, (ctx.perCaller.get(caller) ?? 0) + 1);
  ctx.metrics.concurrent.set(ctx.active.count);
  let cancelled = false;
  inv.onCancel(() => {
    cancelled = true;
  });
  try {
    if (ctx.ringMs > 0) {
      inv.provisional(180);
      await new Promise((r) => setTimeout(r, ctx.ringMs));
    }
    const call: CallRecord = {
      base,
      headerIdentity: decision.identity,
      digits,
      sdh,
      receivedAt,
      req,
      served: dest.served,
    };
    if (cancelled || inv.answered) {
      finishCall(ctx, call, "cancelled", null, undefined);
      return;
    }
    const answer = await sdh.getDescription();
    const agentLabel = decision.identity.agent?.id;
    const text = identityBody({
      name: ctx.name,
      service: dest.requested,
      location: locationSummary(req),
      callId: inv.callId,
      receivedAt: receivedAt.toISOString(),
      source: `${source} over ${inv.meta.transport}`,
      agent: agentLabel,
      path: decision.identity.path,
    });
    const body = buildMultipart([
      { contentType: "application/sdp", body: answer.body, disposition: "session" },
      { contentType: "text/plain", body: text, disposition: "render;handling=optional" },
    ]);
    const answered = inv.accept({ body });
    // The hold runs from the ACK: a BYE must not overtake it (RFC 3261 §15).
    let hold: NodeJS.Timeout | undefined;
    void answered.acked.then((ok) => {
      if (ok) hold = setTimeout(() => void answered.bye(), ctx.holdSeconds * 1000);
    });
    const end = await answered.ended;
    clearTimeout(hold);
    finishCall(ctx, call, end.by === "no_ack" ? "no_ack" : "completed", end, decision.by);
  } finally {
    ctx.active.count--;
    const left = (ctx.perCaller.get(caller) ?? 1) - 1;
    if (left > 0) ctx.perCaller.set(caller, left);
    else ctx.perCaller.delete(caller);
    ctx.metrics.concurrent.set(ctx.active.count);
  }
}

/** What the answering point keeps of a call until it ends. */
interface CallRecord {
  readonly base: Record<string, unknown>;
  readonly headerIdentity: TokenIdentity;
  readonly digits: readonly string[];
  readonly sdh: ProbeSessionDescriptionHandler;
  readonly receivedAt: Date;
  readonly req: IncomingInvite["request"];
  readonly served: string;
}

function finishCall(
  ctx: HandlerContext,
  call: CallRecord,
  outcome: "completed" | "cancelled" | "no_ack",
  end: { by: string; byeStatus: number | null } | null,
  grantedBy: string | undefined,
): void {
  const { base, headerIdentity, digits, sdh, receivedAt, req, served } = call;
  const rtp = sdh.rtp?.report();
  sdh.close();
  // The in-band token identifies the caller when an SBC stripped the header (RFC 4733 *token#).
  const inband = /\*([0-9A-D]+)#/.exec(digits.join(""))?.[1];
  const dtmfIdentity = inband ? ctx.policy.identify(inband) : undefined;
  if (dtmfIdentity) ctx.metrics.token(dtmfIdentity.state, "dtmf");
  const identity = headerIdentity.state === "valid" || !dtmfIdentity ? headerIdentity : dtmfIdentity;
  const agent = identity.state === "valid" ? (identity.agent?.id ?? "unknown") : "unknown";
  // The path's configured name, so that the agent's series (labelled by path id) join with ours.
  const pathEntry = identity.agent?.paths[identity.path ?? ""];
  const path = identity.state === "valid" ? (pathEntry?.name ?? identity.path ?? "unknown") : "unknown";
  const declared = pathEntry?.callerId;
  const callerId = checkCallerId(req, declared);
  const mirrored = (rtp?.received.received ?? 0) > 0 && (rtp?.sent.packets ?? 0) > 0;
  ctx.metrics.testCalls.inc({ agent, path, outcome });
  if (outcome !== "cancelled") {
    ctx.metrics.callerIdChecks.inc({ agent, path, result: callerId.check });
    ctx.metrics.media.inc({ agent, path, result: mirrored ? "mirrored" : "none" });
    ctx.metrics.lastTest.set({ agent, path }, Date.now() / 1000);
  }
  ctx.metrics.mediaPackets.inc({ direction: "received" }, rtp?.received.received ?? 0);
  ctx.metrics.mediaPackets.inc({ direction: "sent" }, rtp?.sent.packets ?? 0);
  void record(ctx, "test_call", {
    ...base,
    served,
    outcome,
    endedBy: end?.by ?? null,
    byeStatus: end?.byeStatus ?? null,
    access: grantedBy ?? null,
    token: identity.token ?? null,
    tokenState: { header: headerIdentity.state, dtmf: dtmfIdentity?.state ?? "absent" },
    agent,
    path,
    callerId,
    media: rtp
      ? {
          mode: ctx.media,
          loopback: sdh.negotiated?.loopback.role === "source",
          received: rtp.received.received,
          sent: rtp.sent.packets,
          lost: rtp.received.lost,
          jitterSeconds: rtp.received.jitterSeconds,
          dtmf: digits.join(""),
        }
      : null,
    receivedAt: receivedAt.toISOString(),
    durationSeconds: (Date.now() - receivedAt.getTime()) / 1000,
  });
  ctx.logger.info(
    { callId: base.callId, agent, path, outcome, callerId: callerId.check, mirrored },
    "test call ended",
  );
}

async function record(ctx: HandlerContext, type: string, data: Record<string, unknown>): Promise<void> {
  try {
    await ctx.journal?.append(type, data);
  } catch (e) {
    ctx.logger.error({ err: (e as Error).message }, "could not write the journal");
  }
}
