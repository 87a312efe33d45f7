import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/**
 * The HTTP face of a probe112 process: /metrics (Prometheus text format), /-/healthy (the
 * process runs) and /-/ready (it is serving). Extra routes can be mounted by the caller.
 */
export async function startMetricsServer(opts: {
  host: string;
  port: number;
  registries: readonly Registry[];
  ready: () => boolean;
  routes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((e: Error) => {
      res.writeHead(500, { "content-type": "text/plain" }).end(`internal error: ${e.message}\n`);
    });
  });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (opts.routes && (await opts.routes(req, res))) return;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    if (path === "/metrics") {
      const texts = await Promise.all(opts.registries.map((r) => r.metrics()));
      res.writeHead(200, { "content-type": opts.registries[0]?.contentType ?? "text/plain; version=0.0.4" });
      res.end(texts.join("\n"));
    } else if (path === "/-/healthy") {
      res.writeHead(200, { "content-type": "text/plain" }).end("OK\n");
    } else if (path === "/-/ready") {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ready\n" : "not ready\n");
    } else {
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end("not found: try /metrics, /-/healthy or /-/ready\n");
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
