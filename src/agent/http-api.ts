import { timingSafeEqual } from "node:crypto";
import type http from "node:http";
import type { Agent } from "./agent.js";
import { summarise } from "./result-store.js";
import { renderStatusPage } from "./status-page.js";

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const got = /^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1];
  if (!got) return false;
  const a = Buffer.from(got);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The agent's API next to /metrics: POST /api/v1/sweep (bearer token) runs every check now and
 * returns the results, GET /api/v1/results lists recent ones, GET / is the status page. Returns
 * false for anything else, which the metrics server then handles.
 */
export async function handleApi(
  agent: Agent,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/api/v1/sweep") {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return true;
    }
    const token = agent.sweepToken;
    if (!token) {
      json(res, 403, {
        error: "sweeps are off: set agent.http.sweepToken (a file or env reference) to enable them",
      });
      return true;
    }
    if (!bearerMatches(req.headers.authorization, token)) {
      agent.metrics.sweeps.inc({ result: "unauthorized" });
      res.setHeader("www-authenticate", 'Bearer realm="probe112"');
      json(res, 401, { error: "missing or wrong bearer token" });
      return true;
    }
    const withTrace = url.searchParams.get("trace") === "1";
    const results = await agent.sweep();
    agent.metrics.sweeps.inc({ result: "ok" });
    json(res, 200, {
      checks: results.length,
      failed: results.filter((r) => !r.success).length,
      results: withTrace ? results : results.map(summarise),
    });
    return true;
  }
  if (url.pathname === "/api/v1/results" && (req.method === "GET" || req.method === "HEAD")) {
    const limit = Math.max(1, Math.min(1000, Number(url.searchParams.get("limit") ?? 100) || 100));
    const check = url.searchParams.get("check") ?? undefined;
    const withTrace = url.searchParams.get("trace") === "1";
    const results = agent.results.recent(limit, check);
    json(res, 200, { results: withTrace ? results : results.map(summarise) });
    return true;
  }
  if (url.pathname === "/" && (req.method === "GET" || req.method === "HEAD")) {
    const cfg = agent.configuration;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(
      renderStatusPage({
        agent: cfg.agent,
        checks: agent.checkSpecs,
        latest: agent.results.lastByCheck(),
        up: (c) => agent.isUp(c),
        nextRun: agent.nextRuns(),
        generatedAt: new Date(),
      }),
    );
    return true;
  }
  return false;
}
