import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { spawnManaged } from "../support/process.js";
import { metricValue, type ResponderRun, startResponder } from "../support/responder.js";

// The responder's HTTP face after real test calls: /metrics must satisfy promtool's linter (the
// Prometheus naming conventions), and the health endpoints must answer.

const ip = uniqueLoopback();
let responder: ResponderRun;
let target: string;

beforeAll(async () => {
  const port = await freePort("udp", ip);
  responder = await startResponder({
    args: [
      "--listen",
      `udp:${ip}:${port}`,
      "--metrics",
      `${ip}:${await freePort("tcp", ip)}`,
      "--allow",
      `${ip}/32`,
      "--hold",
      "30",
    ],
  });
  target = `sip:112@${ip}:${port}`;
  const answered = await call(target, { localAddress: ip, media: "loopback", holdSeconds: 0.5 });
  expect(answered.success, `${answered.outcome}: ${answered.reason}`).toBe(true);
  const notServed = await call(`sip:113@${ip}:${port}`, { localAddress: ip });
  expect(notServed.finalStatus).toBe(404);
});

afterAll(async () => {
  expect((await responder.stop()).code).toBe(0);
});

/** Runs `promtool check metrics` on a scrape; resolves with its exit code and everything it said. */
async function promtoolCheck(text: string): Promise<{ code: number | null; said: string }> {
  const p = spawnManaged("promtool", ["check", "metrics"], { name: "promtool", input: text });
  const r = await p.exited;
  return { code: r.code, said: `${r.stdout}${r.stderr}`.trim() };
}

describe("the responder's /metrics after test calls", () => {
  it("counts what happened", async () => {
    const m = await responder.scrape();
    expect(
      metricValue(m, "probe112_responder_test_calls_total", {
        agent: "unknown",
        path: "unknown",
        outcome: "completed",
      }),
    ).toBe(1);
    expect(metricValue(m, "probe112_responder_rejects_total", { reason: "not_served" })).toBe(1);
    expect(
      metricValue(m, "probe112_responder_media_total", {
        agent: "unknown",
        path: "unknown",
        result: "mirrored",
      }),
    ).toBe(1);
    expect(metricValue(m, "probe112_responder_media_packets_total", { direction: "sent" })).toBeGreaterThan(
      0,
    );
    expect(m).toMatch(/^probe112_build_info\{version="[^"]+",nodejs="v\d+/m);
    expect(metricValue(m, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  it("passes promtool check metrics without a single complaint", async () => {
    const { code, said } = await promtoolCheck(await responder.scrape());
    expect(said).toBe("");
    expect(code).toBe(0);
  });
});

describe("the responder's health endpoints", () => {
  it("/-/healthy and /-/ready answer 200, an unknown path 404", async () => {
    expect((await responder.get("/-/healthy")).status).toBe(200);
    expect((await responder.get("/-/ready")).status).toBe(200);
    const unknown = await responder.get("/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain("/metrics");
  });
});
