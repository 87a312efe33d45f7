import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { type ExitResult, type ManagedProcess, run, spawnManaged } from "./process.js";
import { waitUntilReady } from "./ready.js";

// Prometheus filled with known series, for tests that read history (the compliance report):
// OpenMetrics text written from a description of the series, turned into TSDB blocks by
// `promtool tsdb create-blocks-from openmetrics`, served by a real `prometheus`.

export type MetricType = "counter" | "gauge" | "histogram";

/** One series: its full sample name (probe112_x_total, probe112_x_bucket, …), labels and samples. */
export interface SeriesData {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** [unix seconds, value], oldest first. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
}

/** A metric family: OpenMetrics names counters without `_total` and wants their samples as `_total`. */
export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help?: string;
  readonly series: readonly SeriesData[];
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/** The samples a family may hold: OpenMetrics parsers reject a counter sample without `_total`. */
function allowedNames(f: MetricFamily): string[] {
  switch (f.type) {
    case "counter":
      return [`${f.name}_total`];
    case "gauge":
      return [f.name];
    case "histogram":
      return [`${f.name}_bucket`, `${f.name}_count`, `${f.name}_sum`];
  }
}

/** OpenMetrics text with timestamps (seconds), one family after the other, ending in `# EOF`. */
export function openMetricsText(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} given twice: OpenMetrics wants it once`);
    seen.add(f.name);
    const allowed = allowedNames(f);
    out.push(`# HELP ${f.name} ${f.help ?? f.name}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.series) {
      if (!allowed.includes(s.name)) throw new Error(`${s.name} is not a sample of ${f.type} ${f.name}`);
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(",");
      const head = labels ? `${s.name}{${labels}}` : s.name;
      let last = Number.NEGATIVE_INFINITY;
      for (const [t, v] of s.samples) {
        if (!(t > last)) throw new Error(`${head}: timestamps must increase (${t} after ${last})`);
        last = t;
        out.push(`${head} ${formatValue(v)} ${t}`);
      }
    }
  }
  out.push("# EOF", "");
  return out.join("\n");
}

/**
 * Writes `families` as OpenMetrics and converts them into TSDB blocks under a new directory.
 * Blocks up to 486 h long keep promtool from re-reading the whole file once per 2 h of data.
 */
export async function createTsdb(families: readonly MetricFamily[]): Promise<{ dir: string; data: string }> {
  const dir = mkdtempSync(join(tmpdir(), "p112-tsdb-"));
  const input = join(dir, "series.om.txt");
  const data = join(dir, "data");
  mkdirSync(data);
  writeFileSync(input, openMetricsText(families));
  try {
    await run(
      "promtool",
      ["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=500h", input, data],
      120_000,
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  if (!readdirSync(data).some((f) => /^[0-9A-Z]{26}$/.test(f))) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`promtool wrote no block into ${data}`);
  }
  return { dir, data };
}

/** A `prometheus` serving a prepared TSDB (no scrape targets). */
export interface TsdbPrometheus {
  readonly process: ManagedProcess;
  readonly url: string;
  /** An instant query at `time` (unix seconds), through the HTTP API. */
  query(
    expr: string,
    time: number,
  ): Promise<Array<{ metric: Record<string, string>; value: number; values?: [number, string][] }>>;
  /** SIGTERM, then removes the TSDB directory. */
  stop(): Promise<ExitResult>;
}

/**
 * Starts Prometheus on the blocks made by {@link createTsdb}, on a free loopback port. Retention
 * is a century so blocks from a fixed past date are never deleted at startup.
 */
export async function startPrometheusOnTsdb(
  tsdb: { dir: string; data: string },
  readyTimeoutMs = 30_000,
): Promise<TsdbPrometheus> {
  const config = join(tsdb.dir, "prometheus.yml");
  writeFileSync(config, "global:\n  scrape_interval: 1m\nscrape_configs: []\n");
  const port = await freePort("tcp", "127.0.0.1");
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnManaged(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${tsdb.data}`,
      "--storage.tsdb.retention.time=100y",
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { name: "prometheus (tsdb)", cwd: tsdb.dir, maxOutputChars: 256 * 1024 },
  );
  await waitUntilReady({ proc, name: "prometheus", url, dir: tsdb.dir, timeoutMs: readyTimeoutMs });
  return {
    process: proc,
    url,
    async query(expr, time) {
      const body = new URLSearchParams({ query: expr, time: String(time) });
      const res = await fetch(`${url}/api/v1/query`, { method: "POST", body });
      const json = (await res.json()) as {
        status: string;
        error?: string;
        data: {
          result: Array<{
            metric: Record<string, string>;
            value?: [number, string];
            values?: [number, string][];
          }>;
        };
      };
      if (json.status !== "success") throw new Error(`prometheus ${expr}: ${json.error ?? res.status}`);
      return json.data.result.map((r) => ({
        metric: r.metric,
        value: r.value ? Number(r.value[1]) : Number.NaN,
        values: r.values,
      }));
    },
    async stop() {
      const result = await proc.stop("SIGTERM", 5000);
      rmSync(tsdb.dir, { recursive: true, force: true });
      return result;
    },
  };
}
