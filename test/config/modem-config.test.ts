import { describe, expect, it } from "vitest";
import { agentConfigSchema } from "../../src/config/agent-config.js";
import { problemsOf } from "../../src/config/load.js";

const BASE = {
  agent: { id: "a1", operator: "kpn", region: "ams" },
  providers: [{ id: "kpn" }],
  paths: [{ id: "p", number: 1, provider: "kpn", access: "voip" }],
  destinations: [{ id: "d", uri: "sip:112@192.0.2.1", role: "test112" }],
  checks: [{ paths: ["p"], destinations: ["d"] }],
};

function problems(modems: unknown): string[] {
  const r = agentConfigSchema.safeParse({ ...BASE, modems });
  return r.success ? [] : problemsOf(r.error).map((p) => `${p.path}: ${p.message}`);
}

describe("the modems section of an agent configuration", () => {
  it("is optional, and fills defaults", () => {
    expect(agentConfigSchema.parse(BASE).modems).toBeUndefined();
    const c = agentConfigSchema.parse({
      ...BASE,
      modems: [{ id: "kpn-cb", device: "/dev/ttyUSB2", operator: "kpn", region: "ams" }],
    });
    expect(c.modems).toEqual([
      {
        id: "kpn-cb",
        device: "/dev/ttyUSB2",
        operator: "kpn",
        region: "ams",
        pinPlmn: false,
        baudRate: 115200,
        channels: "919,4352-4356,4370-4400,6400",
        healthInterval: 60,
        assemblyTimeout: 300,
        nationalTestGraceMinutes: 15,
      },
    ]);
  });

  it("names every problem with its path", () => {
    const m = { id: "x", device: "/dev/ttyUSB2", operator: "kpn", region: "ams" };
    expect(
      problems([
        { ...m, expectPlmn: "2040", channels: "4371-919", baudRate: 0, colour: "red" },
        { ...m, id: "y", device: "/dev/ttyUSB3", operator: "KPN" },
      ]),
    ).toEqual([
      'modems[0].expectPlmn: MCC and MNC, 5 or 6 digits, e.g. "20408"',
      "modems[0].baudRate: Too small: expected number to be >=300",
      'modems[0].channels: a list of channels and ranges, e.g. "919,4352-4356,4370-4400,6400"',
      'modems[0]: unknown key "colour": remove it or check the spelling',
      "modems[1].operator: use 1–63 characters a–z, 0–9, - and _ (it becomes a metric label)",
    ]);
    expect(problems([m, { ...m, device: "/dev/ttyUSB3" }, { ...m, id: "y" }])).toEqual([
      'modems[1].id: duplicate id "x"',
      "modems[2].device: /dev/ttyUSB2 is already used by another modem",
    ]);
  });
});
