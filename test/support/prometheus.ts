import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.js";
import { type ExitResult, type ManagedProcess, spawnManaged } from "./process.js";
import { waitUntilReady } from "./ready.js";

/** Options for {@link startPrometheus}. */
export interface PrometheusOptions {
  /** Address for the web UI and API (`--web.listen-address`); a free port is picked on it. */
  ip: string;
  /** Scrape targets as "IP:PORT", all in one job. */
  targets: string[];
  job?: string;
  scrapeIntervalSeconds?: number;
  readyTimeoutMs?: number;
}

/** One series of an instant query. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** One alert as `GET /api/v1/alerts` lists it: pending or firing. */
export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: "pending" | "firing";
  /** When the expression first held (RFC 3339). */
  readonly activeAt: string;
}

/** A running `prometheus` with its own configuration and TSDB in a temp directory. */
export interface PrometheusRun {
  readonly process: ManagedProcess;
  readonly url: string;
  readonly dir: string;
  /** An instant query through the HTTP API; rejects on an API error. */
  query(expr: string): Promise<PromSample[]>;
  /** The scrape targets as Prometheus sees them (health, last error). */
  targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>>;
  /** Alerts pending or firing in its rule evaluation (before Alertmanager). */
  alerts(): Promise<PromAlert[]>;
  /** SIGTERM, then removes the directory. */
  stop(): Promise<ExitResult>;
}

/** Starts Prometheus scraping `targets` and waits until its API answers /-/ready. */
export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusRun> {
  const dir = mkdtempSync(join(tmpdir(), "p112-prometheus-"));
  const interval = `${o.scrapeIntervalSeconds ?? 1}s`;
  writeFileSync(
    join(dir, "prometheus.yml"),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      scrape_configs: [
        {
          job_name: o.job ?? "probe112-agent",
          scrape_interval: interval,
          scrape_timeout: interval,
          static_configs: [{ targets: o.targets }],
        },
      ],
    }),
  );
  return launchPrometheus({ ip: o.ip, dir, readyTimeoutMs: o.readyTimeoutMs });
}

/** Options for {@link launchPrometheus}. */
export interface PrometheusLaunchOptions {
  /** Address for the web UI and API; a free port is picked on it. */
  ip: string;
  /** Holds `prometheus.yml` and whatever it refers to (rules, target files); removed by `stop()`. */
  dir: string;
  readyTimeoutMs?: number | undefined;
}

/** Starts Prometheus on `dir/prometheus.yml` (TSDB in `dir/data`) and waits until it is ready. */
export async function launchPrometheus(o: PrometheusLaunchOptions): Promise<PrometheusRun> {
  const { dir } = o;
  const configFile = join(dir, "prometheus.yml");
  const tsdb = join(dir, "data");
  mkdirSync(tsdb, { recursive: true });
  const port = await freePort("tcp", o.ip);
  const url = `http://${o.ip}:${port}`;
  const proc = spawnManaged(
    "prometheus",
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${tsdb}`,
      `--web.listen-address=${o.ip}:${port}`,
      "--log.level=warn",
    ],
    { name: "prometheus", cwd: dir, maxOutputChars: 256 * 1024 },
  );
  await waitUntilReady({ proc, name: "prometheus", url, dir, timeoutMs: o.readyTimeoutMs });
  const api = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    process: proc,
    url,
    dir,
    async query(expr) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
        result: Array<{ metric: Record<string, string>; value: [number, string] }>;
      };
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async targets() {
      const data = (await api("/api/v1/targets")) as {
        activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }>;
      };
      return data.activeTargets;
    },
    async alerts() {
      return ((await api("/api/v1/alerts")) as { alerts: PromAlert[] }).alerts;
    },
    async stop() {
      const result = await proc.stop("SIGTERM", 5000);
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}
