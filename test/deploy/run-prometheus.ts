import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "../support/ports.js";
import { type ManagedProcess, spawnManaged } from "../support/process.js";
import { waitUntilReady } from "../support/ready.js";

/** The answer of a Prometheus HTTP API call, errors included (they are what some tests look for). */
export interface ApiAnswer {
  readonly httpStatus: number;
  readonly status: string;
  readonly errorType?: string;
  readonly error?: string;
  readonly data?: unknown;
}

/** How to reach a Prometheus started with --web.config.file: its CA and a user. */
export interface WebAccess {
  readonly ca: string;
  readonly username: string;
  readonly password: string;
}

/** A `prometheus` started on a configuration of the test's own. */
export interface PrometheusProcess {
  readonly process: ManagedProcess;
  readonly url: string;
  readonly dir: string;
  /** GET on the HTTP API; resolves with whatever it answered. */
  api(path: string, params?: Record<string, string>): Promise<ApiAnswer>;
  /** SIGTERM, then removes the directory. */
  stop(): Promise<void>;
}

/** A GET over HTTPS with the given CA and credentials; resolves with status and body. */
export function httpsGet(
  url: string,
  access: { ca: string; username?: string; password?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const auth =
      access.username !== undefined
        ? {
            authorization: `Basic ${Buffer.from(`${access.username}:${access.password}`).toString("base64")}`,
          }
        : undefined;
    const req = request(url, { ca: readFileSync(access.ca), headers: auth, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Starts `prometheus` with `config` (written as prometheus.yml in a fresh directory, so relative
 * paths in it resolve there) and extra flags, on a free port of `ip`; waits for /-/ready. With
 * `web`, the HTTP face is HTTPS with basic auth (the caller passes --web.config.file in `args`).
 */
export async function runPrometheus(o: {
  ip: string;
  config: Record<string, unknown>;
  args?: string[];
  files?: Record<string, string>;
  web?: WebAccess;
  name?: string;
}): Promise<PrometheusProcess> {
  const dir = mkdtempSync(join(tmpdir(), "p112-deploy-prom-"));
  const data = join(dir, "data");
  mkdirSync(data);
  writeFileSync(join(dir, "prometheus.yml"), stringify(o.config));
  for (const [name, text] of Object.entries(o.files ?? {}))
    writeFileSync(join(dir, name), text, { mode: 0o600 });
  const port = await freePort("tcp", o.ip);
  const url = `${o.web ? "https" : "http"}://${o.ip}:${port}`;
  const isAgent = (o.args ?? []).includes("--enable-feature=agent");
  const proc = spawnManaged(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      // Agent mode keeps a write-ahead log only, under its own flag.
      `--${isAgent ? "storage.agent.path" : "storage.tsdb.path"}=${data}`,
      `--web.listen-address=${o.ip}:${port}`,
      "--log.level=warn",
      ...(o.args ?? []),
    ],
    { name: o.name ?? "prometheus", cwd: dir, maxOutputChars: 256 * 1024 },
  );
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    if (o.web) return httpsGet(`${url}${path}`, o.web);
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: await res.text() };
  };
  await waitUntilReady({
    proc,
    name: "prometheus",
    url,
    dir,
    probe: async () => (await get("/-/ready")).status === 200,
  });
  return {
    process: proc,
    url,
    dir,
    async api(path, params = {}) {
      const qs = new URLSearchParams(params).toString();
      const res = await get(`${path}${qs ? `?${qs}` : ""}`);
      const body = JSON.parse(res.body) as Omit<ApiAnswer, "httpStatus">;
      return { httpStatus: res.status, ...body };
    },
    async stop() {
      await proc.stop("SIGTERM", 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
