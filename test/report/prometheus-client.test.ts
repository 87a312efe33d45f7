import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient, PrometheusError } from "../../src/report/prometheus-client.js";
import { counterIncrease, histogramQuantile } from "../../src/report/series-math.js";
import { freePort } from "../support/ports.js";
import {
  createTsdb,
  type MetricFamily,
  startPrometheusOnTsdb,
  type TsdbPrometheus,
} from "../support/tsdb.js";

// The client that reads raw samples, against a real Prometheus holding known series: long ranges
// are read in chunks whose boundaries fall exactly on samples, and nothing may come twice.

const B = Date.UTC(2026, 5, 3, 0, 0, 0) / 1000;
const minutes = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Cumulative bucket counts of a histogram at B and at B + 1 h. */
const BUCKETS: Array<[string, number, number]> = [
  ["0.1", 5, 15],
  ["0.5", 10, 50],
  ["1", 20, 100],
  ["2.5", 24, 121],
  ["+Inf", 25, 125],
];

const families: MetricFamily[] = [
  {
    name: "pc_test",
    type: "counter",
    series: [
      // One sample a minute for three hours, the value the minute's number.
      {
        name: "pc_test_total",
        labels: { s: "a" },
        samples: minutes(0, 180).map((m) => [B + m * 60, m] as const),
      },
      // Only in the second half: first seen by a later chunk.
      {
        name: "pc_test_total",
        labels: { s: "b" },
        samples: minutes(95, 180).map((m) => [B + m * 60, m - 95] as const),
      },
    ],
  },
  {
    name: "pc_delay_seconds",
    type: "histogram",
    series: BUCKETS.map(([le, before, after]) => ({
      name: "pc_delay_seconds_bucket",
      labels: { le },
      samples: [
        [B, before],
        [B + 3600, after],
      ] as const,
    })),
  },
];

let prom: TsdbPrometheus;

beforeAll(async () => {
  prom = await startPrometheusOnTsdb(await createTsdb(families));
}, 60_000);

afterAll(async () => {
  await prom?.stop();
});

describe("samples()", () => {
  it("reads a range in chunks with no sample twice and none lost, boundaries on samples", async () => {
    const progress: Array<[number, number]> = [];
    const chunked = new PrometheusClient({
      url: prom.url,
      chunkSeconds: 600,
      onProgress: (p) => progress.push([p.chunk, p.chunks]),
    });
    const whole = new PrometheusClient({ url: prom.url });
    const a = await chunked.samples('pc_test_total{s="a"}', B, B + 3 * 3600);
    const w = await whole.samples('pc_test_total{s="a"}', B, B + 3 * 3600);
    expect(a).toHaveLength(1);
    const ts = a[0]!.samples.map(([t]) => t);
    // Strictly increasing: nothing duplicated at the 17 inner chunk boundaries.
    expect(ts.every((t, i) => i === 0 || t > ts[i - 1]!)).toBe(true);
    // Every sample in (B, B + 3 h] is there (the one at B may come too: Prometheus 2 includes it).
    expect(ts.filter((t) => t > B)).toEqual(minutes(1, 180).map((m) => B + m * 60));
    expect(a[0]!.samples).toEqual(w[0]!.samples);
    expect(counterIncrease(a[0]!.samples, B, B + 3 * 3600)).toBe(180);
    // 3 h in 10-minute chunks.
    expect(progress).toEqual(minutes(1, 18).map((i) => [i, 18]));
    expect(a[0]!.labels).toMatchObject({ __name__: "pc_test_total", s: "a" });
  });

  it("chunks that do not divide the range, and a series that starts in a later chunk", async () => {
    const c = new PrometheusClient({ url: prom.url, chunkSeconds: 700 });
    const got = await c.samples("pc_test_total", B + 30, B + 3 * 3600);
    const b = got.find((s) => s.labels.s === "b")!;
    expect(b.samples.map(([t]) => t)).toEqual(minutes(95, 180).map((m) => B + m * 60));
    expect(b.samples.map(([, v]) => v)).toEqual(minutes(0, 85));
    const a = got.find((s) => s.labels.s === "a")!;
    expect(a.samples.map(([t]) => t)).toEqual(minutes(1, 180).map((m) => B + m * 60));
  });

  it("a range with no data is an empty list, not an error", async () => {
    const c = new PrometheusClient({ url: prom.url });
    expect(await c.samples("pc_test_total", B - 86_400, B - 3600)).toEqual([]);
    expect(await c.samples("no_such_metric", B, B + 3600)).toEqual([]);
  });
});

describe("histogramQuantile on raw samples agrees with Prometheus' histogram_quantile", () => {
  for (const q of [0.05, 0.5, 0.9, 0.95, 0.99]) {
    it(`q = ${q}`, async () => {
      const c = new PrometheusClient({ url: prom.url });
      const series = await c.samples("pc_delay_seconds_bucket", B - 60, B + 3600);
      const buckets = series.map((s): [number, number] => [
        s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le),
        counterIncrease(s.samples, B, B + 3600),
      ]);
      // The exact increase over the hour (no extrapolation): the difference of two instants.
      const [expected] = await prom.query(
        `histogram_quantile(${q}, sum by (le) (pc_delay_seconds_bucket - pc_delay_seconds_bucket offset 1h))`,
        B + 3600,
      );
      expect(histogramQuantile(q, buckets)).toBeCloseTo(expected!.value, 12);
    });
  }
});

describe("errors name the server and the cause", () => {
  let server: Server;
  let base: string;
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => handler(req, res, body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("unreachable: a PrometheusError naming the URL and ECONNREFUSED", async () => {
    const url = `http://127.0.0.1:${await freePort("tcp")}`;
    const c = new PrometheusClient({ url });
    const e = await c.ping().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PrometheusError);
    expect((e as Error).name).toBe("PrometheusError");
    expect((e as Error).message).toBe(`cannot reach Prometheus at ${url}: ECONNREFUSED`);
  });

  it("a web server that is not Prometheus", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>Grafana</body></html>");
    };
    const e = await new PrometheusClient({ url: `${base}/` }).ping().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PrometheusError);
    expect((e as Error).message).toMatch(
      new RegExp(`^${base}/api/v1/query answered HTTP 200 with something other than the Prometheus API`),
    );
  });

  it("a query Prometheus refuses: its error type and reason", async () => {
    const e = await new PrometheusClient({ url: prom.url })
      .samples("pc_test_total{", B, B + 60)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PrometheusError);
    expect((e as Error).message).toMatch(new RegExp(`^Prometheus at ${prom.url} refused ".*": bad_data: `));
  });

  it("sends the extra headers (a bearer token) and collects warnings once", async () => {
    const seen: Array<{ auth: string | undefined; path: string | undefined; body: string }> = [];
    handler = (req, res, body) => {
      seen.push({ auth: req.headers.authorization, path: req.url, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          status: "success",
          data: { resultType: "matrix", result: [] },
          warnings: ["partial response: store eu-2 unreachable"],
        }),
      );
    };
    const c = new PrometheusClient({
      url: base,
      headers: { authorization: "Bearer s3cret" },
      chunkSeconds: 60,
    });
    await c.samples("up", 1000, 1180);
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => s.auth === "Bearer s3cret" && s.path === "/api/v1/query")).toBe(true);
    expect(new URLSearchParams(seen[0]!.body).get("query")).toBe("up[60s]");
    expect(new URLSearchParams(seen[0]!.body).get("time")).toBe("1060");
    expect(c.warnings).toEqual(["partial response: store eu-2 unreachable"]);
  });
});
