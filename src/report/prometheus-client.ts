/** One series and its raw samples, oldest first: [unix seconds, value]. */
export interface RawSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: ReadonlyArray<readonly [number, number]>;
}

/** Why data could not be had from Prometheus: the report names the URL and the cause. */
export class PrometheusError extends Error {
  override readonly name = "PrometheusError";
}

/** Progress while a long range is read: which selector, how many chunks of how many. */
export type ProgressFn = (p: { selector: string; chunk: number; chunks: number }) => void;

export interface PrometheusClientOptions {
  readonly url: string;
  /** Seconds per query: long ranges are read in chunks so no single query hits Prometheus' sample limit. */
  readonly chunkSeconds?: number;
  readonly timeoutMs?: number;
  readonly onProgress?: ProgressFn;
  /** Extra request headers (e.g. Authorization from a file). */
  readonly headers?: Readonly<Record<string, string>>;
}

interface ApiResponse {
  status: "success" | "error";
  data?: {
    resultType: string;
    result: Array<{ metric: Record<string, string>; values?: [number, string][] }>;
  };
  errorType?: string;
  error?: string;
  warnings?: string[];
  infos?: string[];
}

const DAY = 86_400;

/**
 * Reads raw samples from the Prometheus HTTP API (range-vector selectors at chosen instants), so
 * every figure of the report is computed from what was stored, not from Prometheus'
 * extrapolating functions. Warnings Prometheus returns (partial data) are collected, never dropped.
 */
export class PrometheusClient {
  readonly warnings: string[] = [];
  private readonly base: string;

  constructor(private readonly o: PrometheusClientOptions) {
    this.base = o.url.replace(/\/+$/, "");
  }

  /** Raw samples of `selector` with timestamps in (from, to], merged over chunks. */
  async samples(selector: string, from: number, to: number): Promise<RawSeries[]> {
    const chunk = this.o.chunkSeconds ?? DAY;
    const chunks = Math.max(1, Math.ceil((to - from) / chunk));
    const bySeries = new Map<string, { labels: Record<string, string>; samples: [number, number][] }>();
    for (let i = 0; i < chunks; i++) {
      const start = from + i * chunk;
      const end = Math.min(to, start + chunk);
      this.o.onProgress?.({ selector, chunk: i + 1, chunks });
      const r = await this.query(`${selector}[${Math.round(end - start)}s]`, end);
      if (r.resultType !== "matrix") {
        throw new PrometheusError(`${this.base}: expected a matrix for ${selector}, got ${r.resultType}`);
      }
      for (const s of r.result) {
        const key = seriesKey(s.metric);
        let entry = bySeries.get(key);
        if (!entry) {
          entry = { labels: s.metric, samples: [] };
          bySeries.set(key, entry);
        }
        // Range selectors are closed at both ends in some versions: a sample on a chunk boundary comes twice.
        for (const [t, v] of s.values ?? []) {
          if (entry.samples.length === 0 || t > entry.samples[entry.samples.length - 1]![0])
            entry.samples.push([t, Number(v)]);
        }
      }
    }
    return [...bySeries.values()];
  }

  /** Checks that the server answers and is Prometheus, before a long run starts. */
  async ping(): Promise<void> {
    await this.query("vector(1)", Math.floor(Date.now() / 1000));
  }

  private async query(expr: string, time: number): Promise<NonNullable<ApiResponse["data"]>> {
    const url = `${this.base}/api/v1/query`;
    const body = new URLSearchParams({ query: expr, time: String(time) });
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        body,
        headers: { "content-type": "application/x-www-form-urlencoded", ...this.o.headers },
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 120_000),
      });
    } catch (e) {
      const c = (e as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (e as Error).message;
      throw new PrometheusError(`cannot reach Prometheus at ${this.base}: ${cause}`);
    }
    const text = await res.text();
    let json: ApiResponse;
    try {
      json = JSON.parse(text) as ApiResponse;
    } catch {
      throw new PrometheusError(
        `${url} answered HTTP ${res.status} with something other than the Prometheus API (${text.slice(0, 80).trim() || "empty body"}): is --prometheus the server's base URL?`,
      );
    }
    if (json.status !== "success" || !json.data) {
      throw new PrometheusError(
        `Prometheus at ${this.base} refused "${expr}": ${json.errorType ?? `HTTP ${res.status}`}: ${json.error ?? "no reason given"}`,
      );
    }
    for (const w of json.warnings ?? []) if (!this.warnings.includes(w)) this.warnings.push(w);
    return json.data;
  }
}

/** A stable identity for a label set. */
export function seriesKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",");
}
