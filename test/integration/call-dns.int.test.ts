import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ManagedProcess, spawnManaged, waitForPort } from "../support/process.js";
import { startSipp } from "../support/sipp.js";

// Real peer: dnsmasq serves SRV and A records for a test zone on a loopback address, so RFC 3263
// resolution is exercised against a real DNS server, not an in-memory table.

const ip = uniqueLoopback();
let dns: ManagedProcess;
let dnsPort: number;
let sipPort: number;

beforeAll(async () => {
  dnsPort = await freePort("udp", ip);
  sipPort = await freePort("udp", ip);
  dns = spawnManaged(
    "dnsmasq",
    [
      "--keep-in-foreground",
      "--no-resolv",
      "--no-hosts",
      "--no-dhcp-interface=lo",
      `--listen-address=${ip}`,
      "--bind-interfaces",
      `--port=${dnsPort}`,
      "--user=root",
      "--pid-file=",
      `--srv-host=_sip._udp.psap.test,sbc1.psap.test,${sipPort},10,0`,
      `--host-record=sbc1.psap.test,${ip}`,
      `--host-record=direct.psap.test,${ip}`,
    ],
    { name: "dnsmasq" },
  );
  await waitForPort("udp", ip, dnsPort, 5000, { process: dns });
});

afterAll(async () => {
  await dns?.stop();
});

describe("RFC 3263 resolution through a real DNS server", () => {
  it("follows the SRV record of a name without a port to the server and port it names", async () => {
    const sipp = startSipp({
      scenario: "uas-answer",
      role: "uas",
      transport: "u1",
      ip,
      port: sipPort,
      keys: { ring_ms: "0", answer_ms: "0" },
    });
    await sipp.ready;
    const r = await runCli([
      "call",
      "sip:112@psap.test",
      "--dns-server",
      `${ip}:${dnsPort}`,
      "--hold",
      "0.1",
      "--json",
    ]);
    await sipp.expectSuccess();
    expect(r.json?.outcome).toBe("answered");
    expect(r.json?.remote).toBe(`${ip}:${sipPort}`);
  });

  it("uses the A record and the given port when the URI has one", async () => {
    const sipp = startSipp({
      scenario: "uas-answer",
      role: "uas",
      transport: "u1",
      ip,
      port: sipPort,
      keys: { ring_ms: "0", answer_ms: "0" },
    });
    await sipp.ready;
    const r = await runCli([
      "call",
      `sip:112@direct.psap.test:${sipPort}`,
      "--dns-server",
      `${ip}:${dnsPort}`,
      "--hold",
      "0.1",
      "--json",
    ]);
    await sipp.expectSuccess();
    expect(r.json?.outcome).toBe("answered");
  });

  it("a name that does not exist is a transport_error naming it, before any INVITE", async () => {
    const r = await runCli([
      "call",
      "sip:112@nowhere.psap.test",
      "--dns-server",
      `${ip}:${dnsPort}`,
      "--json",
    ]);
    expect(r.code).toBe(1);
    expect(r.json?.outcome).toBe("transport_error");
    expect(r.json?.reason).toMatch(/cannot resolve nowhere\.psap\.test/);
    expect(r.json?.trace).toEqual([]);
  });
});
