import { Worker } from "node:worker_threads";
import { monotonicMs } from "./trace.js";

/** A UDP socket whose datagrams are time-stamped next to the kernel, off the main thread. */
export interface DatagramSocket {
  /** The bound address and port. */
  readonly local: { readonly address: string; readonly port: number };
  /** Sends one datagram; resolves with the monotonic time (ms) taken just before `sendto`. */
  send(data: string | Buffer, port: number, address: string): Promise<number>;
  close(): Promise<void>;
}

export interface DatagramSocketOptions {
  readonly type: "udp4" | "udp6";
  readonly address: string;
  readonly port: number;
  /** Called for every datagram with the monotonic time (ms) of its arrival. */
  readonly onMessage: (data: Buffer, remote: { address: string; port: number }, at: number) => void;
  readonly onError?: (error: Error & { code?: string }) => void;
}

/**
 * The socket itself lives in a worker thread whose event loop does nothing else, so the
 * timestamps RFC 6076 intervals are made of are not delayed by the main thread's garbage
 * collection, compilation or SIP processing. The worker stamps with process.hrtime, the same
 * clock as monotonicMs() on every thread. Its source is inline so that it runs the same from
 * the compiled package and from the TypeScript sources under test.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const dgram = require("node:dgram");
const sockets = new Map();
const now = () => Number(process.hrtime.bigint()) / 1e6;
// Addresses arrive resolved: skip dgram's asynchronous lookup, which would delay sendto by a tick.
const direct = (address, _options, cb) => cb(null, address, address.includes(":") ? 6 : 4);
const fail = (e) => ({ code: e.code, message: e.message });
parentPort.on("message", (m) => {
  if (m.op === "bind") {
    const s = dgram.createSocket({ type: m.type, lookup: direct });
    const onBindError = (e) => { s.close(); parentPort.postMessage({ ev: "reply", req: m.req, error: fail(e) }); };
    s.once("error", onBindError);
    s.on("message", (data, r) => {
      const at = now();
      parentPort.postMessage({ ev: "message", id: m.id, data, address: r.address, port: r.port, at });
    });
    s.bind(m.port, m.address, () => {
      s.off("error", onBindError);
      s.on("error", (e) => parentPort.postMessage({ ev: "error", id: m.id, error: fail(e) }));
      sockets.set(m.id, s);
      const a = s.address();
      parentPort.postMessage({ ev: "reply", req: m.req, address: a.address, port: a.port });
    });
  } else if (m.op === "send") {
    const s = sockets.get(m.id);
    if (!s) return parentPort.postMessage({ ev: "reply", req: m.req, error: { code: "ERR_SOCKET_DGRAM_NOT_RUNNING", message: "socket closed" } });
    const at = now();
    try {
      s.send(m.data, m.port, m.address, (e) => parentPort.postMessage({ ev: "reply", req: m.req, at, error: e ? fail(e) : undefined }));
    } catch (e) {
      parentPort.postMessage({ ev: "reply", req: m.req, error: fail(e) });
    }
  } else if (m.op === "close") {
    const s = sockets.get(m.id);
    sockets.delete(m.id);
    if (!s) return parentPort.postMessage({ ev: "reply", req: m.req });
    s.close(() => parentPort.postMessage({ ev: "reply", req: m.req }));
  }
});
`;

type Reply = {
  ev: "reply";
  req: number;
  at?: number;
  address?: string;
  port?: number;
  error?: { code?: string; message: string };
};
type Event =
  | Reply
  | { ev: "message"; id: number; data: Uint8Array; address: string; port: number; at: number }
  | { ev: "error"; id: number; error: { code?: string; message: string } };

/** One worker serves every datagram socket of the process; it holds the process open only while sockets are. */
class WorkerHost {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private readonly sockets = new Map<number, DatagramSocketOptions>();

  request(message: Record<string, unknown>, transfer?: ArrayBuffer[]): Promise<Reply> {
    const req = this.nextId++;
    const w = this.ensure();
    return new Promise((resolve) => {
      this.pending.set(req, resolve);
      w.postMessage({ ...message, req }, transfer);
    });
  }

  register(opts: DatagramSocketOptions): number {
    const id = this.nextId++;
    this.sockets.set(id, opts);
    this.ensure().ref();
    return id;
  }

  unregister(id: number): void {
    this.sockets.delete(id);
    if (this.sockets.size === 0) this.worker?.unref();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on("message", (m: Event) => this.dispatch(m));
    const die = (error: Error) => {
      this.worker = undefined;
      for (const [req, resolve] of this.pending) {
        this.pending.delete(req);
        resolve({
          ev: "reply",
          req,
          error: { code: "EWORKER", message: `UDP worker died: ${error.message}` },
        });
      }
      for (const s of this.sockets.values())
        s.onError?.(Object.assign(new Error(`UDP worker died: ${error.message}`), { code: "EWORKER" }));
    };
    w.on("error", die);
    w.on("exit", (code) => die(new Error(`exit code ${code}`)));
    this.worker = w;
    return w;
  }

  private dispatch(m: Event): void {
    if (m.ev === "reply") {
      const resolve = this.pending.get(m.req);
      this.pending.delete(m.req);
      resolve?.(m);
    } else if (m.ev === "message") {
      const s = this.sockets.get(m.id);
      s?.onMessage(
        Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
        { address: m.address, port: m.port },
        m.at,
      );
    } else {
      this.sockets.get(m.id)?.onError?.(Object.assign(new Error(m.error.message), { code: m.error.code }));
    }
  }
}

const host = new WorkerHost();

function asError(e: { code?: string; message: string }): Error & { code?: string } {
  return Object.assign(new Error(e.message), { code: e.code });
}

/** Binds a UDP socket in the stamping worker. */
export async function openDatagramSocket(opts: DatagramSocketOptions): Promise<DatagramSocket> {
  const id = host.register(opts);
  const bound = await host.request({
    op: "bind",
    id,
    type: opts.type,
    address: opts.address,
    port: opts.port,
  });
  if (bound.error) {
    host.unregister(id);
    throw asError(bound.error);
  }
  let closed = false;
  return {
    local: { address: bound.address ?? opts.address, port: bound.port ?? 0 },
    async send(data, port, address) {
      if (closed) throw asError({ code: "ERR_SOCKET_DGRAM_NOT_RUNNING", message: "socket closed" });
      const r = await host.request({
        op: "send",
        id,
        data: typeof data === "string" ? Buffer.from(data) : data,
        port,
        address,
      });
      if (r.error) throw asError(r.error);
      return r.at ?? monotonicMs();
    },
    async close() {
      if (closed) return;
      closed = true;
      await host.request({ op: "close", id });
      host.unregister(id);
    },
  };
}
