import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import { type CliRun, runCli } from "../support/call.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { type KamailioInstance, startKamailio } from "../support/kamailio.js";
import { freePort, freeUdpTcpPort, uniqueLoopback } from "../support/ports.js";
import { type ResponderRun, startResponder } from "../support/responder.js";

// Our prober against our answering point, both as real processes: media loopback verified end
// to end, directly over UDP, TCP and TLS, and through Kamailio as a record-routing proxy.

const NAME = "Meldkamer Test (probe112 responder)";
const ip = uniqueLoopback();
let pki: TestPki;
let responder: ResponderRun | undefined;
let proxy: KamailioInstance | undefined;

beforeAll(async () => {
  // Responder and proxy both listen on this file's loopback address; certificates must name it.
  pki = await makeTestPki(undefined, { extraSans: [`IP:${ip}`] });
});

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  const r = responder;
  responder = undefined;
  if (r) expect((await r.stop()).code, "the responder exits 0 on SIGTERM").toBe(0);
});

async function start(listen: string[], extra: string[] = []): Promise<ResponderRun> {
  responder = await startResponder({
    args: [
      ...listen.flatMap((l) => ["--listen", l]),
      "--name",
      NAME,
      "--allow",
      `${ip}/32`,
      "--tls-cert",
      pki.serverCert,
      "--tls-key",
      pki.serverKey,
      "--hold",
      "30",
      ...extra,
    ],
    journal: true,
  });
  return responder;
}

/**
 * A media test call from the CLI, from this file's address (Linux would otherwise send from
 * 127.0.0.1, which the responder does not allow); the call itself must prove the far end.
 */
async function probe(args: string[]): Promise<{ run: CliRun; r: TestCallResult }> {
  const run = await runCli([
    "call",
    ...args,
    "--local-address",
    ip,
    "--media",
    "loopback",
    "--hold",
    "1",
    "--json",
  ]);
  expect(run.json, `no JSON result; stderr:\n${run.stderr}`).toBeDefined();
  return { run, r: run.json! };
}

function expectVerifiedTest(run: CliRun, r: TestCallResult, service: string): void {
  const why = `${r.outcome}: ${r.reason}; media: ${r.media?.reason}`;
  expect(r.success, why).toBe(true);
  expect(r.outcome, why).toBe("answered");
  expect(r.media?.verdict, why).toBe("ok");
  expect(r.media?.loopback, "the responder answered our RFC 6849 offer as a mirror").toBe(true);
  const lines = r.farEnd?.text?.split(/\r?\n/) ?? [];
  expect(lines[0]).toBe(NAME);
  expect(lines[1]).toBe(service);
  expect(run.code, run.stderr).toBe(0);
}

describe("probe112 call → probe112 responder, direct", () => {
  it.each(["udp", "tcp"] as const)(
    "over %s: answered, media looped back by the RFC 6849 mirror, the identity names the answering point and 112",
    async (transport) => {
      const port = transport === "udp" ? await freePort("udp", ip) : await freePort("tcp", ip);
      const r = await start([`${transport}:${ip}:${port}`]);
      const { run, r: result } = await probe([`sip:112@${ip}:${port}`, "-t", transport]);
      expectVerifiedTest(run, result, "112");
      expect(result.transport).toBe(transport);
      const rec = await r.waitForJournal((j) => j.type === "test_call");
      expect(rec).toMatchObject({
        outcome: "completed",
        endedBy: "remote",
        transport: transport.toUpperCase(),
        media: { loopback: true },
      });
      expect((rec.media as { received: number }).received).toBeGreaterThan(0);
    },
  );

  it("over TLS, verified against the test CA (--tls-ca): answered, media looped back", async () => {
    const port = await freePort("tcp", ip);
    await start([`tls:${ip}:${port}`]);
    const { run, r } = await probe([`sip:112@${ip}:${port}`, "-t", "tls", "--tls-ca", pki.caCert]);
    expectVerifiedTest(run, r, "112");
    expect(r.trace.every((e) => e.transport === "TLS")).toBe(true);
  });
});

describe("probe112 call → Kamailio (record-route) → probe112 responder over UDP", () => {
  async function topology(): Promise<{ sipPort: number; tlsPort: number; target: string }> {
    const respPort = await freePort("udp", ip);
    await start([`udp:${ip}:${respPort}`]);
    const sipPort = await freeUdpTcpPort(ip);
    const tlsPort = await freePort("tcp", ip);
    proxy = await startKamailio({
      listen: [
        { proto: "udp", ip, port: sipPort },
        { proto: "tls", ip, port: tlsPort },
      ],
      upstream: { proto: "udp", host: ip, port: respPort },
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert },
    });
    return { sipPort, tlsPort, target: `sip:112@${ip}:${respPort}` };
  }

  it("the caller over UDP: answered, ACK and BYE through the proxy, media looped back", async () => {
    const t = await topology();
    const { run, r } = await probe([t.target, "--proxy", `sip:${ip}:${t.sipPort}`]);
    expectVerifiedTest(run, r, "112");
    expect(new Set(r.trace.map((e) => e.remote))).toEqual(new Set([`${ip}:${t.sipPort}`]));
    const rec = await responder!.waitForJournal((j) => j.type === "test_call");
    expect(rec).toMatchObject({ outcome: "completed", endedBy: "remote", byeStatus: null });
  });

  it("the caller over TLS to the proxy (verified): answered, media looped back", async () => {
    const t = await topology();
    const { run, r } = await probe([
      t.target,
      "-t",
      "tls",
      "--proxy",
      `sip:${ip}:${t.tlsPort};transport=tls`,
      "--tls-ca",
      pki.caCert,
    ]);
    expectVerifiedTest(run, r, "112");
  });

  it("the responder hangs up first: its BYE follows the Record-Route back through the proxy to the caller", async () => {
    const t = await topology();
    await responder!.stop();
    const respPort = Number(t.target.split(":").pop());
    responder = await startResponder({
      args: ["--listen", `udp:${ip}:${respPort}`, "--name", NAME, "--allow", `${ip}/32`, "--hold", "1"],
      journal: true,
    });
    const run = await runCli([
      "call",
      t.target,
      "--proxy",
      `sip:${ip}:${t.sipPort}`,
      "--media",
      "loopback",
      "--hold",
      "10",
      "--json",
    ]);
    const r = run.json!;
    expect(r.outcome, r.reason).toBe("answered");
    expect(r.hangup).toBe("remote");
    const bye = r.trace.find((e) => e.direction === "received" && e.method === "BYE");
    expect(bye?.remote).toBe(`${ip}:${t.sipPort}`);
    expect(await responder.waitForJournal((j) => j.type === "test_call")).toMatchObject({
      endedBy: "local",
      byeStatus: 200,
    });
  });
});
