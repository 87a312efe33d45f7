import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { type KamailioInstance, type KamailioOptions, startKamailio } from "../support/kamailio.js";
import { freePort, freeUdpTcpPort, uniqueLoopback } from "../support/ports.js";
import { spawnManaged } from "../support/process.js";
import {
  describeSippResult,
  type SippResult,
  type SippRun,
  type SippTransport,
  sippLogEntries,
  sippStartLines,
  startSipp,
} from "../support/sipp.js";

// Kamailio in front of SIPp fixtures: the proxy paths the engine will be tested through.

const ip = uniqueLoopback();
let pki: TestPki;
let proxy: KamailioInstance | undefined;

beforeAll(async () => {
  // The proxy listens on a per-file loopback address, which the certificate must name.
  pki = await makeTestPki(undefined, { extraSans: [`IP:${ip}`] });
});

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
});

interface Topology {
  uas: SippRun;
  proxy: KamailioInstance;
  ports: { udp: number; tcp: number; tls: number; uas: number };
}

async function startTopology(
  uasScenario: string,
  extra: Partial<KamailioOptions> = {},
  uasKeys: Record<string, string> = {},
): Promise<Topology> {
  const sipPort = await freeUdpTcpPort(ip);
  const tlsPort = await freePort("tcp", ip);
  const uasPort = await freeUdpTcpPort(ip);
  const uas = startSipp({
    scenario: uasScenario,
    role: "uas",
    transport: "u1",
    ip,
    port: uasPort,
    keys: uasKeys,
  });
  proxy = await startKamailio({
    listen: [
      { proto: "udp", ip, port: sipPort },
      { proto: "tcp", ip, port: sipPort },
      { proto: "tls", ip, port: tlsPort },
    ],
    upstream: { proto: "udp", host: ip, port: uasPort },
    tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert },
    ...extra,
  });
  await uas.ready;
  return { uas, proxy, ports: { udp: sipPort, tcp: sipPort, tls: tlsPort, uas: uasPort } };
}

async function callThrough(
  topo: Topology,
  uacScenario: string,
  transport: SippTransport,
  options: { keys?: Record<string, string>; extraArgs?: string[]; uasGetsCall?: boolean } = {},
): Promise<{ uas: SippResult; uac: SippResult; explain: () => string }> {
  const uac = startSipp({
    scenario: uacScenario,
    role: "uac",
    transport,
    ip,
    port: await freeUdpTcpPort(ip),
    remote: `${ip}:${topo.ports.udp}`,
    keys: options.keys,
    extraArgs: options.extraArgs,
    timeoutS: 20,
  });
  const uacResult = await uac.exit;
  // A UAS that is never reached would otherwise sit until its global timeout.
  const uasResult = options.uasGetsCall === false ? await topo.uas.stop() : await topo.uas.exit;
  return {
    uas: uasResult,
    uac: uacResult,
    explain: () =>
      `${describeSippResult(topo.uas, uasResult)}\n\n${describeSippResult(uac, uacResult)}\n\n--- kamailio log (tail) ---\n${topo.proxy
        .log()
        .split("\n")
        .slice(-60)
        .join("\n")}`,
  };
}

function received(log: string, method: string): string[] {
  return sippLogEntries(log)
    .filter((e) => e.direction === "received" && e.text.startsWith(`${method} `))
    .map((e) => e.text);
}

describe("Kamailio test proxy in front of SIPp", () => {
  it("relays a UDP call with record-route, so ACK and BYE traverse the proxy", async () => {
    const topo = await startTopology("uas-answer", {}, { ring_ms: "0", answer_ms: "0" });
    const result = await callThrough(topo, "uac-basic", "u1");
    expect(result.uas.code, result.explain()).toBe(0);
    expect(result.uac.code, result.explain()).toBe(0);
    const rr = new RegExp(`^Record-Route: <sip:${ip.replace(/\./g, "\\.")}:${topo.ports.udp};lr`, "m");
    expect(received(result.uas.messageLog, "INVITE")[0]).toMatch(rr);
    for (const method of ["ACK", "BYE"]) {
      const request = received(result.uas.messageLog, method)[0];
      expect(request, `${method} reached the UAS`).toBeDefined();
      // The proxy's Via on top proves the in-dialog request was routed through it.
      expect(request!.match(/^Via: .*/gm)?.[0]).toContain(`${ip}:${topo.ports.udp}`);
    }
  });

  it("relays a TCP client to the UDP upstream (double record-route)", async () => {
    const topo = await startTopology("uas-answer", {}, { ring_ms: "0", answer_ms: "0" });
    const result = await callThrough(topo, "uac-basic", "t1");
    expect(result.uas.code, result.explain()).toBe(0);
    expect(result.uac.code, result.explain()).toBe(0);
    const invite = received(result.uas.messageLog, "INVITE")[0]!;
    expect(invite).toMatch(/^Via: SIP\/2.0\/UDP .*\n(?:.*\n)*?Via: SIP\/2.0\/TCP /m);
    expect(invite).toMatch(/transport=tcp/i);
    expect(received(result.uas.messageLog, "BYE")).toHaveLength(1);
  });

  it("routes the callee's BYE back to a TCP caller over its own connection", async () => {
    const topo = await startTopology("uas-bye-first", {}, { hangup_ms: "200" });
    const result = await callThrough(topo, "uac-bye-first", "t1");
    expect(result.uas.code, result.explain()).toBe(0);
    expect(result.uac.code, result.explain()).toBe(0);
    expect(received(result.uac.messageLog, "BYE")).toHaveLength(1);
  });

  it("relays CANCEL and the 487", async () => {
    const topo = await startTopology("uas-no-answer");
    const result = await callThrough(topo, "uac-cancel", "u1");
    expect(result.uas.code, result.explain()).toBe(0);
    expect(result.uac.code, result.explain()).toBe(0);
    expect(sippStartLines(result.uac.messageLog, "received")).toContain("SIP/2.0 487 Request Terminated");
  });

  it("challenges an INVITE with 407 when auth is configured and relays it once authorised", async () => {
    const topo = await startTopology(
      "uas-answer",
      { authUser: "alice", authPassword: "s3cret" },
      { ring_ms: "0", answer_ms: "0" },
    );
    const result = await callThrough(topo, "uac-auth", "u1", {
      extraArgs: ["-au", "alice", "-ap", "s3cret"],
    });
    expect(result.uas.code, result.explain()).toBe(0);
    expect(result.uac.code, result.explain()).toBe(0);
    const challenge = sippLogEntries(result.uac.messageLog).find((e) => e.text.startsWith("SIP/2.0 407"));
    expect(challenge?.text).toMatch(/^Proxy-Authenticate: Digest realm="probe112\.test", .*qop="auth"/m);
    // Credentials are consumed by the proxy, not leaked upstream.
    expect(received(result.uas.messageLog, "INVITE")[0]).not.toMatch(/Proxy-Authorization/i);
  });

  it("answers wrong credentials with 403 and never bothers the upstream", async () => {
    const topo = await startTopology("uas-answer", { authUser: "alice", authPassword: "s3cret" });
    const result = await callThrough(topo, "uac-auth", "u1", {
      keys: { expect_final: "403" },
      extraArgs: ["-au", "alice", "-ap", "wrong"],
      uasGetsCall: false,
    });
    expect(result.uac.code, result.explain()).toBe(0);
    expect(received(result.uas.messageLog, "INVITE")).toEqual([]);
  });
});

describe("Kamailio TLS listener", () => {
  function sClient(port: number, caFile: string, input?: string, extraArgs: string[] = []) {
    return spawnManaged(
      "openssl",
      [
        "s_client",
        "-connect",
        `${ip}:${port}`,
        "-CAfile",
        caFile,
        "-verify_return_error",
        "-verify_ip",
        ip,
        "-servername",
        "localhost",
        ...extraArgs,
        ...(input ? ["-ign_eof", "-quiet"] : []),
      ],
      { name: "openssl s_client", input: input ?? "" },
    );
  }

  const optionsRequest = (uri: string, branch: string) =>
    [
      `OPTIONS ${uri} SIP/2.0`,
      `Via: SIP/2.0/TLS ${ip}:5061;branch=z9hG4bK-${branch};rport`,
      "Max-Forwards: 70",
      `From: <sip:probe@${ip}>;tag=${branch}`,
      `To: <${uri}>`,
      `Call-ID: ${branch}@${ip}`,
      "CSeq: 1 OPTIONS",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");

  it("completes a verified handshake with the test CA and fails with the wrong CA", async () => {
    const topo = await startTopology("uas-options");
    const ok = sClient(topo.ports.tls, pki.caCert);
    const okResult = await ok.exited;
    expect(okResult.stdout).toMatch(/Verify return code: 0 \(ok\)/);
    expect(okResult.code).toBe(0);

    const bad = sClient(topo.ports.tls, pki.rogueCert);
    const badResult = await bad.exited;
    expect(badResult.code).not.toBe(0);
    expect(`${badResult.stdout}${badResult.stderr}`).toMatch(/verify error|certificate verify failed/i);
    await topo.uas.stop();
  });

  it("accepts SIP over TLS: OPTIONS to the proxy and OPTIONS relayed to the UDP upstream", async () => {
    const topo = await startTopology("uas-options");

    const local = await sClient(
      topo.ports.tls,
      pki.caCert,
      optionsRequest(`sip:${ip}:${topo.ports.tls};transport=tls`, "local1"),
    );
    await local.waitFor(/SIP\/2\.0 200 OK[\s\S]*Server: probe112-test-proxy/, 10000);
    await local.stop();

    const relayed = await sClient(
      topo.ports.tls,
      pki.caCert,
      optionsRequest(`sip:uas@${ip}:${topo.ports.tls}`, "relay1"),
    );
    const reply = await relayed.waitFor(/SIP\/2\.0 200 OK[\s\S]*?\r\n\r\n/, 10000);
    await relayed.stop();
    expect(reply).toMatch(/^Supported: replaces/m);
    const uasResult = await topo.uas.exit;
    expect(uasResult.code, describeSippResult(topo.uas, uasResult)).toBe(0);
    expect(received(uasResult.messageLog, "OPTIONS")[0]).toMatch(/^Via: SIP\/2.0\/TLS /m);
  });

  it("with requireClientCert, serves only clients presenting a certificate from the CA", async () => {
    const topo = await startTopology("uas-options", {
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert, requireClientCert: true },
    });
    const request = optionsRequest(`sip:${ip}:${topo.ports.tls};transport=tls`, "mtls1");

    const anonymous = sClient(topo.ports.tls, pki.caCert, request);
    const anonymousResult = await anonymous.exited;
    expect(`${anonymousResult.stdout}${anonymousResult.stderr}`).not.toMatch(/SIP\/2\.0 200/);
    expect(`${anonymousResult.stdout}${anonymousResult.stderr}`).toMatch(/alert|error/i);

    const rogue = sClient(topo.ports.tls, pki.caCert, request, [
      "-cert",
      pki.rogueCert,
      "-key",
      pki.rogueKey,
    ]);
    const rogueResult = await rogue.exited;
    expect(`${rogueResult.stdout}${rogueResult.stderr}`).not.toMatch(/SIP\/2\.0 200/);

    const client = sClient(topo.ports.tls, pki.caCert, request, [
      "-cert",
      pki.clientCert,
      "-key",
      pki.clientKey,
    ]);
    await client.waitFor(/SIP\/2\.0 200 OK/, 10000);
    await client.stop();
    await topo.uas.stop();
  });
});
