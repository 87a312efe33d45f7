import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentRun, agentConfig, startAgent, writeSecret } from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ResponderRun, startResponder } from "../support/responder.js";

// The sweep an engineer runs after a routing change, and the results listing, over real HTTP
// against a real agent whose calls a real answering point takes.

const ip = uniqueLoopback();
const TOKEN = "sweep-token-4b1d0c9e8f";
const CHECKS = ["path-a.test-112", "path-b.test-112"];
let responder: ResponderRun;
let agent: AgentRun;
let sipPort: number;

interface Summary {
  id: string;
  check: string;
  attempt: string;
  startedAt: string;
  success: boolean;
  outcome: string;
  call: Record<string, unknown>;
}

function config(httpPort: number, agentExtra: Record<string, unknown> = {}) {
  return agentConfig({
    ip,
    httpPort,
    agent: agentExtra,
    paths: { "path-a": {}, "path-b": {} },
    destinations: { "test-112": `sip:112@${ip}:${sipPort}` },
    // Runs sit on a grid of the interval (offset by a hash of agent and check), so with an hour
    // the scheduler all but never calls during the test: every result is one the test asked for.
    check: { interval: 3600, timeout: 10, hold: 0.3, media: "none" },
  });
}

const sweep = (url: string, authorization?: string) =>
  fetch(`${url}/api/v1/sweep`, {
    method: "POST",
    headers: authorization ? { authorization } : {},
  });

const results = async (query = ""): Promise<Summary[]> => {
  const res = await fetch(`${agent.url}/api/v1/results${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: Summary[] }).results;
};

beforeAll(async () => {
  sipPort = await freePort("udp", ip);
  responder = await startResponder({
    args: ["--listen", `udp:${ip}:${sipPort}`, "--allow", `${ip}/32`, "--per-caller-per-minute", "600"],
  });
  const dir = mkdtempSync(join(tmpdir(), "p112-agent-"));
  agent = await startAgent({
    dir,
    config: config(await freePort("tcp", ip), {
      http: { sweepToken: writeSecret(dir, "sweep-token", TOKEN) },
    }),
  });
}, 30_000);

afterAll(async () => {
  const exit = await agent?.stop();
  await responder?.stop();
  expect(exit?.code).toBe(0);
});

describe("POST /api/v1/sweep", () => {
  it("refuses a request without a bearer token: 401 with a WWW-Authenticate challenge, no call placed", async () => {
    const before = (await results()).length;
    const res = await sweep(agent.url);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/bearer token/) });
    expect((await results()).length).toBe(before);
  });

  it("refuses a wrong token (and one that is only a prefix of the right one) with 401", async () => {
    for (const wrong of ["Bearer not-the-token", `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]) {
      const res = await sweep(agent.url, wrong);
      expect(res.status, wrong).toBe(401);
    }
    expect(await agent.metric("probe112_sweeps_total", { result: "unauthorized" })).toBe(5);
  });

  it("answers GET with 405", async () => {
    const res = await fetch(`${agent.url}/api/v1/sweep`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("with the right token runs every check now and returns one fresh result per check, attempt sweep", async () => {
    const sentAt = new Date();
    const res = await sweep(agent.url, `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checks: number; failed: number; results: Summary[] };
    expect(body.checks).toBe(CHECKS.length);
    expect(body.failed).toBe(0);
    expect(body.results.map((r) => r.check).sort()).toEqual(CHECKS);
    for (const r of body.results) {
      expect(r.attempt, r.check).toBe("sweep");
      expect(r.outcome, r.check).toBe("answered");
      expect(r.success).toBe(true);
      expect(Date.parse(r.startedAt), "placed after the request").toBeGreaterThanOrEqual(
        sentAt.getTime() - 5,
      );
      expect(r.call, "listings carry no SIP trace unless asked").not.toHaveProperty("trace");
    }
    expect(await agent.metric("probe112_sweeps_total", { result: "ok" })).toBe(1);
    const sweeps = await agent.metricSum("probe112_call_attempts_total", { attempt: "sweep" });
    expect(sweeps).toBe(CHECKS.length);
  });

  it("?trace=1 includes the SIP messages of each call", async () => {
    const res = await fetch(`${agent.url}/api/v1/sweep?trace=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as {
      results: Array<Summary & { call: { trace: Array<{ summary: string }> } }>;
    };
    expect(body.results).toHaveLength(CHECKS.length);
    for (const r of body.results) {
      expect(r.call.trace.map((e) => e.summary.split(" ")[0])).toEqual(
        expect.arrayContaining(["INVITE", "200", "ACK", "BYE"]),
      );
    }
  });

  it("is off without agent.http.sweepToken: 403 naming the setting", async () => {
    const other = await startAgent({ config: config(await freePort("tcp", ip)) });
    try {
      const res = await sweep(other.url, `Bearer ${TOKEN}`);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toContain("agent.http.sweepToken");
    } finally {
      expect((await other.stop()).code).toBe(0);
    }
  });
});

describe("GET /api/v1/results", () => {
  it("lists recent results newest first; ?check= filters and ?limit= bounds the list", async () => {
    const all = await results();
    expect(all.length).toBeGreaterThanOrEqual(CHECKS.length * 2);
    const times = all.map((r) => r.startedAt);
    expect(times).toEqual([...times].sort().reverse());
    const one = await results("?check=path-b.test-112&limit=2");
    expect(one).toHaveLength(2);
    expect(one.every((r) => r.check === "path-b.test-112")).toBe(true);
    expect(one.map((r) => r.id)).toEqual(
      all
        .filter((r) => r.check === "path-b.test-112")
        .map((r) => r.id)
        .slice(0, 2),
    );
    expect(await results("?check=no-such-check")).toEqual([]);
    expect(one[0]!.call).not.toHaveProperty("trace");
    const traced = await results("?check=path-a.test-112&limit=1&trace=1");
    expect(traced[0]!.call).toHaveProperty("trace");
  });

  it("answers the same results in the journal, written before they were reported", async () => {
    const listed = await results("?limit=1000");
    const journaled = new Set(agent.journal().map((r) => r.id));
    for (const r of listed) expect(journaled.has(r.id), r.id).toBe(true);
  });
});
