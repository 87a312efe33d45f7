import type { Logger } from "pino";
import {
  buildRequest,
  buildResponse,
  type MessageBody,
  newBranch,
  type ResponseOptions,
  randomToken,
} from "./sip-builder.js";
import {
  headerValue,
  headerValues,
  parseSipMessage,
  type SipRequestView,
  type SipResponseView,
  tagOf,
} from "./sip-message.js";
import { uriOfNameAddr } from "./sip-uri.js";
import type { InboundMeta, SipTransportBase } from "./transport-base.js";
import { RFC3261_TIMERS, transactionKey } from "./udp-reliability.js";
import { parseVia, socketHost, viaParam } from "./via.js";

/** Where a request came from, as the transport stamped it on the top Via. */
export interface RequestSource {
  readonly address: string;
  readonly port: number;
  readonly transport: string;
}

/** An INVITE waiting for our answer. */
export interface IncomingInvite {
  readonly request: SipRequestView;
  readonly callId: string;
  readonly source: RequestSource;
  /** The connection it came over (TLS client certificate included). */
  readonly meta: InboundMeta;
  /** Sends a provisional response (180, 183). */
  provisional(status: number, opts?: Pick<ResponseOptions, "headers" | "body">): void;
  /** Answers 2xx and opens the dialog; 2xx retransmissions run until the ACK. */
  accept(opts: { body?: MessageBody; headers?: readonly string[] }): AnsweredCall;
  reject(status: number, opts?: Pick<ResponseOptions, "reason" | "headers">): void;
  /** Called when the caller CANCELs before our final response (we have answered 487 already). */
  onCancel(handler: () => void): void;
  /** True once a final response was sent. */
  readonly answered: boolean;
}

export type CallEnd = { readonly by: "remote" | "local" | "no_ack"; readonly byeStatus: number | null };

/** A confirmed (or confirming) dialog on our side. */
export interface AnsweredCall {
  readonly callId: string;
  /** Resolves true when the ACK arrives, false when 64·T1 passed without one. */
  readonly acked: Promise<boolean>;
  /** Resolves once the dialog is over. */
  readonly ended: Promise<CallEnd>;
  /** Hangs up; resolves with the BYE's final status, or null when none came. */
  bye(): Promise<number | null>;
}

export interface SipUasOptions {
  readonly transport: SipTransportBase;
  /** Our Contact URI, e.g. sip:responder@192.0.2.5:5060;transport=udp. */
  readonly contact: string;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly onInvite: (invite: IncomingInvite) => void;
  /** Answer to an OPTIONS ping; 200 with our capabilities when absent. */
  readonly onOptions?: (
    request: SipRequestView,
    source: RequestSource,
  ) => { status: number; headers?: readonly string[] };
  /** Counts what was refused before reaching the application (metrics). */
  readonly onRefused?: (reason: string, request: SipRequestView) => void;
  /** Most server transactions kept at once; beyond it new INVITEs get 503 without state. */
  readonly maxTransactions?: number;
}

const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS";
const LIFETIME_MS = 64 * RFC3261_TIMERS.t1;

interface ServerTransaction {
  readonly request: SipRequestView;
  lastResponse: string | undefined;
  final: boolean;
  readonly cancelHandlers: Array<() => void>;
  readonly localTag: string;
  cleanup: NodeJS.Timeout | undefined;
}

interface DialogState {
  readonly id: string;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  readonly remoteTarget: string;
  readonly routes: readonly string[];
  localCseq: number;
  okResponse: string;
  ackTimer: NodeJS.Timeout | undefined;
  ackResolve: (acked: boolean) => void;
  endResolve: (end: CallEnd) => void;
  over: boolean;
}

interface ClientTransaction {
  resolve: (status: number | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * A small user agent server for an answering point: INVITE, ACK, CANCEL, BYE and OPTIONS, with
 * the transaction and dialog rules of RFC 3261 §12–§17 that matter for it (retransmitted
 * requests answered from the last response, 2xx resent until the ACK, CANCEL → 487, BYE
 * either way). It reads every URI scheme (tel:, urn:service:…), any Request-URI user and
 * multipart bodies, which is what RFC 6881 test calls bring. Retransmissions of our requests
 * and non-2xx responses over UDP come from the transport's reliability layer.
 */
export class SipUas {
  private readonly ists = new Map<string, ServerTransaction>();
  private readonly dialogs = new Map<string, DialogState>();
  private readonly finished = new Map<string, { response: string; expires: number }>();
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly maxTx: number;

  constructor(private readonly opts: SipUasOptions) {
    this.maxTx = opts.maxTransactions ?? 5000;
    opts.transport.onInbound = (text, meta) => this.handle(text, meta);
  }

  /** Open server transactions and dialogs, for bounded-memory checks. */
  get size(): { transactions: number; dialogs: number } {
    return { transactions: this.ists.size + this.finished.size, dialogs: this.dialogs.size };
  }

  /** Ends every dialog with a BYE (best effort) and clears all state. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.dialogs.values()].filter((d) => !d.over).map((d) => this.sendBye(d).catch(() => null)),
    );
    for (const t of this.ists.values()) clearTimeout(t.cleanup);
    for (const d of this.dialogs.values()) clearTimeout(d.ackTimer);
    for (const c of this.clients.values()) clearTimeout(c.timer);
    this.ists.clear();
    this.dialogs.clear();
    this.clients.clear();
    this.finished.clear();
  }

  private handle(text: string, meta: InboundMeta): void {
    const view = parseSipMessage(text);
    if (view.kind === "error") return; // the transport traced and counted it already
    try {
      if (view.kind === "response") this.onResponse(view);
      else this.onRequest(view, meta);
    } catch (e) {
      this.opts.logger.error({ err: (e as Error).message }, "answering point failed on a request");
    }
  }

  private onRequest(req: SipRequestView, meta: InboundMeta): void {
    this.expireFinished();
    const key = transactionKey(req);
    if (!key) return;
    const done = this.finished.get(key);
    if (done && req.method !== "ACK") {
      this.send(done.response); // a retransmitted non-INVITE request: same answer (Timer J)
      return;
    }
    if (req.method === "INVITE") this.onInvite(req, key, meta);
    else if (req.method === "ACK") this.onAck(req);
    else if (req.method === "CANCEL") this.onCancelRequest(req);
    else if (req.method === "BYE") this.onBye(req, key);
    else if (req.method === "OPTIONS") {
      const r = this.opts.onOptions?.(req, sourceOf(req)) ?? { status: 200 };
      const headers = [`Allow: ${ALLOW}`, "Accept: application/sdp, multipart/mixed", ...(r.headers ?? [])];
      this.respondFinal(req, key, r.status, { headers });
    } else if (this.dialogOf(req) && (req.method === "INFO" || req.method === "UPDATE")) {
      this.respondFinal(req, key, 200);
    } else {
      this.opts.onRefused?.("method_not_allowed", req);
      this.respondFinal(req, key, 405, { headers: [`Allow: ${ALLOW}`] });
    }
  }

  private onInvite(req: SipRequestView, key: string, meta: InboundMeta): void {
    const existing = this.ists.get(key);
    if (existing) {
      if (existing.lastResponse) this.send(existing.lastResponse); // retransmitted INVITE
      return;
    }
    if (tagOf(headerValue(req, "to"))) {
      this.onReInvite(req, key);
      return;
    }
    if (this.ists.size >= this.maxTx) {
      this.opts.onRefused?.("overload", req);
      this.send(
        buildResponse(req, 503, {
          toTag: randomToken(),
          headers: ["Retry-After: 5"],
          server: this.opts.userAgent,
        }),
      );
      return;
    }
    const tx: ServerTransaction = {
      request: req,
      lastResponse: undefined,
      final: false,
      cancelHandlers: [],
      localTag: randomToken(),
      cleanup: undefined,
    };
    this.ists.set(key, tx);
    // RFC 3261 §17.2.1: a 100 at once stops the caller's Timer A retransmissions.
    this.respondIst(tx, 100);
    const callId = headerValue(req, "call-id") ?? "";
    const invite: IncomingInvite = {
      request: req,
      callId,
      source: sourceOf(req),
      meta,
      provisional: (status, o) => {
        if (!tx.final) this.respondIst(tx, status, { ...o, contact: this.opts.contact });
      },
      accept: (o) => this.accept(tx, key, o),
      reject: (status, o) => {
        if (!tx.final) this.finalIst(tx, key, status, o ?? {});
      },
      onCancel: (h) => tx.cancelHandlers.push(h),
      get answered() {
        return tx.final;
      },
    };
    this.opts.onInvite(invite);
  }

  /** A re-INVITE (a session refresh): the same answer again, the session stays as it is. */
  private onReInvite(req: SipRequestView, key: string): void {
    const d = this.dialogOf(req);
    if (!d) {
      this.respondFinal(req, key, 481);
      return;
    }
    const body = d.okResponse.slice(d.okResponse.indexOf("\r\n\r\n") + 4);
    const type = /\r\nContent-Type:\s*([^\r\n]+)/i.exec(d.okResponse)?.[1];
    this.respondFinal(req, key, 200, {
      toTag: d.localTag,
      contact: this.opts.contact,
      ...(type && body ? { body: { contentType: type, content: body } } : {}),
    });
  }

  private accept(
    tx: ServerTransaction,
    key: string,
    o: { body?: MessageBody; headers?: readonly string[] },
  ): AnsweredCall {
    if (tx.final) throw new Error("INVITE already answered");
    const req = tx.request;
    const ok = buildResponse(req, 200, {
      toTag: tx.localTag,
      contact: this.opts.contact,
      server: this.opts.userAgent,
      ...(o.headers ? { headers: o.headers } : {}),
      ...(o.body ? { body: o.body } : {}),
    });
    tx.final = true;
    tx.lastResponse = ok;
    this.scheduleCleanup(key, tx);
    let ackResolve: (acked: boolean) => void = () => {};
    let endResolve: (end: CallEnd) => void = () => {};
    const acked = new Promise<boolean>((r) => {
      ackResolve = r;
    });
    const ended = new Promise<CallEnd>((r) => {
      endResolve = r;
    });
    const callId = headerValue(req, "call-id") ?? "";
    const remoteTag = tagOf(headerValue(req, "from")) ?? "";
    const d: DialogState = {
      id: dialogId(callId, tx.localTag, remoteTag),
      callId,
      localTag: tx.localTag,
      remoteTag,
      localUri: `${headerValue(req, "to") ?? ""};tag=${tx.localTag}`,
      remoteUri: headerValue(req, "from") ?? "",
      remoteTarget: uriOfNameAddr(headerValues(req, "contact")[0] ?? req.requestUri),
      routes: headerValues(req, "record-route"),
      localCseq: Math.floor(Math.random() * 2 ** 30) + 1,
      okResponse: ok,
      ackTimer: undefined,
      ackResolve,
      endResolve,
      over: false,
    };
    this.dialogs.set(d.id, d);
    this.send(ok);
    this.retransmitOk(d, RFC3261_TIMERS.t1, 0);
    // RFC 3261 §15: the callee must not send BYE before the ACK for its 2xx (or the ACK timeout).
    return { callId, acked, ended, bye: () => acked.then((ok) => (ok ? this.sendBye(d) : null)) };
  }

  /** RFC 3261 §13.3.1.4: resend the 2xx at T1, doubling to T2, until the ACK; give up after 64·T1. */
  private retransmitOk(d: DialogState, interval: number, elapsed: number): void {
    const wait = Math.min(interval, LIFETIME_MS - elapsed);
    d.ackTimer = setTimeout(() => {
      if (d.over) return;
      const next = elapsed + wait;
      if (next >= LIFETIME_MS) {
        d.ackResolve(false);
        void this.sendBye(d, "no_ack");
        return;
      }
      this.send(d.okResponse);
      this.retransmitOk(d, Math.min(interval * 2, RFC3261_TIMERS.t2), next);
    }, wait);
  }

  private onAck(req: SipRequestView): void {
    const inviteKey = transactionKey(req, "INVITE");
    const tx = inviteKey ? this.ists.get(inviteKey) : undefined;
    if (tx?.final && tx.lastResponse && !tx.lastResponse.startsWith("SIP/2.0 2")) return; // ACK of a non-2xx
    const d = this.dialogOf(req);
    if (!d) return;
    clearTimeout(d.ackTimer);
    d.ackTimer = undefined;
    d.ackResolve(true);
  }

  private onCancelRequest(req: SipRequestView): void {
    const key = transactionKey(req);
    const tx = this.ists.get(transactionKey(req, "INVITE") ?? "");
    if (!tx || !key) {
      this.respondFinal(req, key ?? "", 481);
      return;
    }
    this.respondFinal(req, key, 200, { toTag: tx.localTag });
    if (tx.final) return;
    this.finalIst(tx, transactionKey(tx.request) ?? "", 487, {});
    for (const h of tx.cancelHandlers) h();
  }

  private onBye(req: SipRequestView, key: string): void {
    const d = this.dialogOf(req);
    if (!d) {
      this.respondFinal(req, key, 481);
      return;
    }
    this.respondFinal(req, key, 200);
    clearTimeout(d.ackTimer);
    d.ackResolve(true);
    this.endDialog(d, { by: "remote", byeStatus: null });
  }

  private onResponse(res: SipResponseView): void {
    const key = transactionKey(res);
    const c = key ? this.clients.get(key) : undefined;
    if (!c || !key || res.status < 200) return;
    clearTimeout(c.timer);
    this.clients.delete(key);
    c.resolve(res.status);
  }

  /** Sends a BYE in the dialog (RFC 3261 §15.1.1); resolves with the final status or null. */
  private sendBye(d: DialogState, by: "local" | "no_ack" = "local"): Promise<number | null> {
    if (d.over) return Promise.resolve(null);
    d.over = true;
    clearTimeout(d.ackTimer);
    const branch = newBranch();
    const via = `SIP/2.0/${this.opts.transport.protocol} ${this.opts.transport.viaHost};branch=${branch};rport`;
    const bye = buildRequest({
      method: "BYE",
      requestUri: d.remoteTarget,
      via,
      from: d.localUri,
      to: d.remoteUri,
      callId: d.callId,
      cseq: ++d.localCseq,
      routes: d.routes,
      userAgent: this.opts.userAgent,
    });
    const key = `${branch}|BYE|${d.callId}`;
    const result = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        this.clients.delete(key);
        resolve(null); // Timer F
      }, LIFETIME_MS);
      this.clients.set(key, { resolve, timer });
    });
    this.send(bye);
    return result.then((status) => {
      this.endDialog(d, { by, byeStatus: status });
      return status;
    });
  }

  private endDialog(d: DialogState, end: CallEnd): void {
    d.over = true;
    clearTimeout(d.ackTimer);
    // Keep the dialog a little for late retransmissions of their BYE, then forget it.
    setTimeout(() => this.dialogs.delete(d.id), RFC3261_TIMERS.t4).unref();
    d.endResolve(end);
  }

  private dialogOf(req: SipRequestView): DialogState | undefined {
    const callId = headerValue(req, "call-id") ?? "";
    const local = tagOf(headerValue(req, "to")) ?? "";
    const remote = tagOf(headerValue(req, "from")) ?? "";
    return this.dialogs.get(dialogId(callId, local, remote));
  }

  private respondIst(tx: ServerTransaction, status: number, o: ResponseOptions = {}): void {
    const r = buildResponse(tx.request, status, { toTag: tx.localTag, server: this.opts.userAgent, ...o });
    tx.lastResponse = r;
    this.send(r);
  }

  private finalIst(
    tx: ServerTransaction,
    key: string,
    status: number,
    o: Pick<ResponseOptions, "reason" | "headers">,
  ): void {
    tx.final = true;
    this.respondIst(tx, status, o);
    this.scheduleCleanup(key, tx);
  }

  /** A final response to a non-INVITE request, remembered to answer retransmissions (Timer J). */
  private respondFinal(req: SipRequestView, key: string, status: number, o: ResponseOptions = {}): void {
    const r = buildResponse(req, status, {
      server: this.opts.userAgent,
      toTag: o.toTag ?? randomToken(),
      ...o,
    });
    if (key) this.finished.set(key, { response: r, expires: Date.now() + LIFETIME_MS });
    this.send(r);
  }

  /** Server transactions live 64·T1 after the final response to absorb retransmissions (Timers H, I, L). */
  private scheduleCleanup(key: string, tx: ServerTransaction): void {
    clearTimeout(tx.cleanup);
    tx.cleanup = setTimeout(() => this.ists.delete(key), LIFETIME_MS);
    tx.cleanup.unref();
  }

  private expireFinished(): void {
    if (this.finished.size < 256) return;
    const now = Date.now();
    for (const [k, v] of this.finished) if (v.expires < now) this.finished.delete(k);
    // A flood of distinct requests must not grow this without bound: forget the oldest answers.
    while (this.finished.size > this.maxTx) this.finished.delete(this.finished.keys().next().value!);
  }

  private send(message: string): void {
    this.opts.transport.send(message).catch((e: Error) => {
      this.opts.logger.info({ err: e.message }, "could not send a SIP message");
    });
  }
}

function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/** The caller's address as our transport stamped it (received/rport), else the Via sent-by. */
export function sourceOf(req: SipRequestView): RequestSource {
  const via = parseVia(headerValues(req, "via")[0] ?? "");
  if (!via) return { address: "", port: 0, transport: "" };
  const received = viaParam(via, "received");
  const rport = viaParam(via, "rport");
  return {
    address: socketHost(received ?? via.host),
    port: rport ? Number(rport) : (via.port ?? 5060),
    transport: via.transport,
  };
}
