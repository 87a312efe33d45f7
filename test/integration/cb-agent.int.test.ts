import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NL_2023, NL_2023_TEXTS } from "../cellbroadcast/vectors.js";
import {
  type AgentConfigData,
  type AgentRun,
  agentConfig,
  agentLogTail,
  eventually,
  startAgent,
} from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type PtyPair, startPtyPair } from "../support/pty-pair.js";
import { openSimModem, type SimModem } from "../support/sim-modem.js";

// The agent with a `modems:` section: one cell-broadcast probe per modem, its results through the
// same journal-then-metrics path as the calls, and a reload that changes the modem.

const ip = uniqueLoopback();
let pty: PtyPair;
let sim: SimModem;
let agent: AgentRun;
let httpPort: number;
let deadPort: number;

function config(healthInterval: number): AgentConfigData {
  return {
    ...agentConfig({
      ip,
      httpPort,
      paths: { "path-a": {} },
      // A SIP check is mandatory; this one calls a loopback port nobody listens on, once an hour.
      destinations: { dead: { uri: `sip:112@${ip}:${deadPort}`, role: "other" } },
      check: { interval: 3600, timeout: 2, hold: 0.2, media: "none" },
    }),
    modems: [
      {
        id: "kpn-lab",
        device: pty.host,
        operator: "kpn",
        region: "lab",
        expectPlmn: "20408",
        healthInterval,
      },
    ],
  };
}

const cb = () => agent.journal().filter((r) => r.kind === "cell_broadcast");
const L = { modem: "kpn-lab", operator: "kpn", region: "lab" };

beforeAll(async () => {
  pty = await startPtyPair("agent");
  sim = openSimModem(pty.modem);
  httpPort = await freePort("tcp", ip);
  deadPort = await freePort("udp", ip);
  agent = await startAgent({ config: config(5) });
});

afterAll(async () => {
  const exit = await agent?.stop();
  sim?.close();
  await pty?.close();
  expect(exit?.code).toBe(0);
});

describe("the agent with a modem", () => {
  it("journals the receiver's health and exports it", async () => {
    const h = await eventually(
      () => cb().find((r) => r.event === "health" && (r.health as { initialised: boolean }).initialised),
      15_000,
      () => `a health result in the journal; log:\n${agentLogTail(agent)}`,
    );
    expect(h).toMatchObject({
      check: "cb.kpn-lab",
      modem: "kpn-lab",
      operator: "kpn",
      agent: "test-agent",
      success: true,
    });
    expect(await agent.metric("probe112_cb_receiver_registered", L)).toBe(1);
    expect(await agent.metric("probe112_cb_receiver_subscription_verified", L)).toBe(1);
    expect(await agent.metric("probe112_cb_national_test_missed", L)).toBe(0);
    expect(await agent.metric("probe112_cb_broadcasts_total", { ...L, mid: "4371" })).toBe(0);
  });

  it("a broadcast goes to the journal (text, PDUs, serial number) and to the metrics", async () => {
    for (const pdu of NL_2023) sim.cbm(pdu);
    const b = await eventually(
      () => cb().find((r) => r.event === "broadcast"),
      10_000,
      () => `a broadcast in the journal; log:\n${agentLogTail(agent)}`,
    );
    expect(b.broadcast).toMatchObject({
      status: "complete",
      kind: "nl_test",
      messageIdentifier: 4371,
      serialNumber: { raw: 0x46a0, messageCode: 106 },
      text: NL_2023_TEXTS.join(""),
      pdus: [...NL_2023],
    });
    await eventually(
      async () => (await agent.metric("probe112_cb_broadcasts_total", { ...L, mid: "4371" })) === 1,
      5000,
      "probe112_cb_broadcasts_total 1",
    );
    expect(await agent.metric("probe112_cb_alerts_total", { ...L, kind: "nl_test" })).toBe(1);
    expect(await agent.metric("probe112_cb_pages_total", { ...L, mid: "4371" })).toBe(3);
  });

  it("a reload that changes the modem restarts its probe: the modem is initialised again", async () => {
    const before = sim.commands.length;
    agent.reload(config(6));
    await sim.waitForCommand(/^ATE0$/, 15_000, before);
    await eventually(
      () => agent.logLines().some((l) => l.msg === "configuration reloaded"),
      5000,
      "the reload to be logged",
    );
    const from = cb().length;
    await eventually(
      () =>
        cb()
          .slice(from)
          .find((r) => r.event === "health" && r.success),
      15_000,
      () => `a healthy result after the reload; log:\n${agentLogTail(agent)}`,
    );
  });
});
