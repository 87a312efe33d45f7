import { readFileSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TestCallOptions, TestCallResult } from "../../src/sip/test-call.js";
import { call, runCli, traceLines } from "../support/call.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { type KamailioInstance, type KamailioOptions, startKamailio } from "../support/kamailio.js";
import { freePort, freeUdpTcpPort, uniqueLoopback } from "../support/ports.js";
import {
  describeSippResult,
  type SippResult,
  type SippRun,
  sippLogEntries,
  startSipp,
} from "../support/sipp.js";

// Real peers: Kamailio as the provider's proxy/SBC (UDP, TCP and TLS listeners, record-routing,
// optionally challenging with 407) in front of a SIPp UAS it reaches over UDP.

const ip = uniqueLoopback();
let pki: TestPki;
let proxy: KamailioInstance | undefined;
let uas: SippRun | undefined;

beforeAll(async () => {
  // The proxy listens on this file's own loopback address, which the certificate must name.
  pki = await makeTestPki(undefined, { extraSans: [`IP:${ip}`] });
});

afterEach(async () => {
  await uas?.stop(500);
  uas = undefined;
  await proxy?.stop();
  proxy = undefined;
});

interface Topology {
  uas: SippRun;
  proxy: KamailioInstance;
  ports: { udp: number; tcp: number; tls: number; uas: number };
  /** The Request-URI to call: the UAS, so that only the preloaded Route leads to the proxy. */
  target: string;
}

async function startTopology(
  uasScenario: string,
  uasKeys: Record<string, string> = {},
  extra: Partial<KamailioOptions> = {},
): Promise<Topology> {
  const sipPort = await freeUdpTcpPort(ip);
  const tlsPort = await freePort("tcp", ip);
  const uasPort = await freeUdpTcpPort(ip);
  uas = startSipp({
    scenario: uasScenario,
    role: "uas",
    transport: "u1",
    ip,
    port: uasPort,
    keys: uasKeys,
    timeoutS: 20,
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
  return {
    uas,
    proxy,
    ports: { udp: sipPort, tcp: sipPort, tls: tlsPort, uas: uasPort },
    target: `sip:112@${ip}:${uasPort}`,
  };
}

/** The UAS must have seen the whole call; on failure the message says why, with the proxy's log. */
async function uasSucceeded(topo: Topology): Promise<SippResult> {
  const result = await topo.uas.exit;
  expect(
    result.code,
    `${describeSippResult(topo.uas, result)}\n--- kamailio ---\n${topo.proxy.log().slice(-4000)}`,
  ).toBe(0);
  return result;
}

/** For calls that must never get past the proxy: the UAS saw nothing. */
async function uasUntouched(topo: Topology): Promise<void> {
  const result = await topo.uas.stop(500);
  expect(received(result, "INVITE")).toEqual([]);
}

function received(sipp: { messageLog: string }, method: string): string[] {
  return sippLogEntries(sipp.messageLog)
    .filter((e) => e.direction === "received" && e.text.startsWith(`${method} `))
    .map((e) => e.text);
}

function sent(r: TestCallResult, method: string) {
  return r.trace.filter((e) => e.direction === "sent" && e.method === method);
}

function reEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function topVia(message: string): string {
  return message.match(/^Via: (.*)$/m)?.[1] ?? "";
}

const ca = () => readFileSync(pki.caCert, "utf8");
const answerKeys = { ring_ms: "100", answer_ms: "100" };

describe("UDP through Kamailio as outbound proxy (record-route)", () => {
  it("answered: the INVITE carries the proxy as a loose Route, ACK and BYE follow the Record-Route", async () => {
    const topo = await startTopology("uas-answer", answerKeys);
    const proxyAddr = `${ip}:${topo.ports.udp}`;
    const r = await call(topo.target, { proxy: `sip:${proxyAddr}` });
    const s = await uasSucceeded(topo);
    expect(r.outcome, r.reason).toBe("answered");
    expect(r.proxy).toBe(`sip:${proxyAddr}`);
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> BYE"]);
    // Every message goes to and comes from the proxy, never the UAS directly.
    expect(new Set(r.trace.map((e) => e.remote))).toEqual(new Set([proxyAddr]));

    const invite = sent(r, "INVITE")[0]!.message;
    expect(invite).toMatch(new RegExp(`^INVITE ${reEscape(topo.target)} SIP/2\\.0\\r$`, "m"));
    expect(invite).toMatch(new RegExp(`^Route: <sip:${reEscape(proxyAddr)};lr>\\r$`, "m"));

    const ok = r.trace.find(
      (e) => e.direction === "received" && e.status === 200 && e.cseqMethod === "INVITE",
    )!;
    const recordRoute = ok.message.match(/^Record-Route: <([^>]*)>/m)?.[1];
    expect(recordRoute).toMatch(new RegExp(`^sip:${reEscape(proxyAddr)};.*lr`));
    const contact = `sip:uas@${ip}:${topo.ports.uas};transport=UDP`;
    for (const method of ["ACK", "BYE"]) {
      const request = sent(r, method)[0]!;
      expect(request.remote).toBe(proxyAddr);
      // URI parameter values such as transport compare case-insensitively (RFC 3261 §19.1.4).
      expect(request.message).toMatch(new RegExp(`^${method} ${reEscape(contact)} SIP/2\\.0\\r$`, "im"));
      expect(request.message).toMatch(new RegExp(`^Route: <${reEscape(recordRoute!)}>\\r$`, "m"));
      // And the UAS got it from the proxy, with the proxy's Via on top.
      expect(topVia(received(s, method)[0] ?? "")).toContain(proxyAddr);
    }
    expect(r.byeStatus).toBe(200);
  });
});

describe("TCP to Kamailio, UDP upstream", () => {
  it("answered: ACK and BYE go back through the proxy on the INVITE's connection", async () => {
    const topo = await startTopology("uas-answer", answerKeys);
    const proxyAddr = `${ip}:${topo.ports.tcp}`;
    const r = await call(topo.target, { transport: "tcp", proxy: `sip:${proxyAddr};transport=tcp` });
    const s = await uasSucceeded(topo);
    expect(r.outcome, r.reason).toBe("answered");
    expect(r.timings.connect).not.toBeNull();
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> BYE"]);
    expect(new Set(r.trace.map((e) => `${e.transport} ${e.local} ${e.remote}`))).toEqual(
      new Set([`TCP ${r.local} ${proxyAddr}`]),
    );
    // The proxy record-routes twice (TCP side, UDP side); the TCP entry must be our first Route.
    const bye = sent(r, "BYE")[0]!.message;
    const routes = [...bye.matchAll(/^Route: (.*)\r$/gm)].flatMap((m) => m[1]!.split(/,\s*/));
    expect(routes).toHaveLength(2);
    expect(routes[0]).toMatch(new RegExp(`^<sip:${reEscape(proxyAddr)};transport=tcp;.*lr`));
    expect(routes[1]).toMatch(new RegExp(`^<sip:${reEscape(proxyAddr)};(?!transport=tcp).*lr`));
    expect(r.byeStatus).toBe(200);
    const byeAtUas = received(s, "BYE")[0]!;
    expect(topVia(byeAtUas)).toMatch(new RegExp(`^SIP/2\\.0/UDP ${reEscape(proxyAddr)};`));
    expect(byeAtUas).toMatch(new RegExp(`^Via: SIP/2\\.0/TCP ${reEscape(r.local!)};`, "m"));
  });

  it("no answer: the ring timeout's CANCEL carries the INVITE's Route, the proxy relays it, 487 makes it no_answer", async () => {
    const topo = await startTopology("uas-no-answer", { ring_ms: "100" });
    const proxyAddr = `${ip}:${topo.ports.tcp}`;
    const r = await call(topo.target, {
      transport: "tcp",
      proxy: `sip:${proxyAddr};transport=tcp`,
      ringTimeoutSeconds: 1,
    });
    const s = await uasSucceeded(topo);
    expect(r.outcome, r.reason).toBe("no_answer");
    expect(r.finalStatus).toBe(487);
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> CANCEL", "> ACK"]);
    const route = (m: string) => m.match(/^Route: .*$/m)?.[0];
    const invite = sent(r, "INVITE")[0]!;
    // RFC 3261 §9.1 and §17.1.1.3: CANCEL and the ACK of the 487 take the INVITE's Route and top Via.
    for (const method of ["CANCEL", "ACK"]) {
      const request = sent(r, method)[0]!;
      expect(request.remote).toBe(proxyAddr);
      expect(route(request.message)).toBe(route(invite.message));
      expect(topVia(request.message)).toBe(topVia(invite.message));
    }
    expect(received(s, "CANCEL")).toHaveLength(1);
  });
});

describe("TLS to Kamailio, UDP upstream", () => {
  it("verified against the test CA: answered, every message over the one TLS connection", async () => {
    const topo = await startTopology("uas-answer", answerKeys);
    const proxyAddr = `${ip}:${topo.ports.tls}`;
    const r = await call(topo.target, {
      transport: "tls",
      proxy: `sip:${proxyAddr};transport=tls`,
      tls: { verify: true, ca: ca() },
    });
    const s = await uasSucceeded(topo);
    expect(r.outcome, r.reason).toBe("answered");
    expect(r.timings.connect).not.toBeNull();
    expect(r.timings.connect).toBeLessThan(0.5);
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> BYE"]);
    expect(new Set(r.trace.map((e) => `${e.transport} ${e.local} ${e.remote}`))).toEqual(
      new Set([`TLS ${r.local} ${proxyAddr}`]),
    );
    const invite = sent(r, "INVITE")[0]!.message;
    expect(invite).toMatch(new RegExp(`^Via: SIP/2\\.0/TLS ${reEscape(r.local!)};branch=`, "m"));
    expect(invite).toMatch(new RegExp(`^Contact: <sip:probe112@${reEscape(r.local!)};transport=tls>`, "m"));
    expect(received(s, "INVITE")[0]).toMatch(/^Via: SIP\/2\.0\/TLS /m);
  });

  it("verification on but no CA given: the system store rejects the certificate and the reason points to --tls-ca", async () => {
    const topo = await startTopology("uas-answer", answerKeys);
    const r = await call(topo.target, {
      transport: "tls",
      proxy: `sip:${ip}:${topo.ports.tls};transport=tls`,
      tls: { verify: true },
    });
    await uasUntouched(topo);
    expect(r.outcome).toBe("transport_error");
    expect(r.reason).toMatch(new RegExp(`^TLS certificate of ${reEscape(ip)}:${topo.ports.tls} rejected: `));
    expect(r.reason).toContain("--tls-ca");
    expect(r.finalStatus).toBeNull();
    expect(r.timings.connect).toBeNull();
    expect(r.trace).toEqual([]);
    expect(r.timings.total).toBeLessThan(2);
  });

  it("a certificate from an unrelated issuer is rejected even with our CA", async () => {
    const topo = await startTopology("uas-answer", answerKeys, {
      tls: { certFile: pki.rogueCert, keyFile: pki.rogueKey },
    });
    const r = await call(topo.target, {
      transport: "tls",
      proxy: `sip:${ip}:${topo.ports.tls};transport=tls`,
      tls: { verify: true, ca: ca() },
    });
    await uasUntouched(topo);
    expect(r.outcome).toBe("transport_error");
    expect(r.reason).toMatch(
      new RegExp(`^TLS certificate of ${reEscape(ip)}:${topo.ports.tls} rejected: .*self[- ]signed`, "i"),
    );
    expect(r.timings.connect).toBeNull();
    expect(r.trace).toEqual([]);
  });

  it("with verification explicitly off, the same unrelated certificate is accepted and the call answered", async () => {
    const topo = await startTopology("uas-answer", answerKeys, {
      tls: { certFile: pki.rogueCert, keyFile: pki.rogueKey },
    });
    const r = await call(topo.target, {
      transport: "tls",
      proxy: `sip:${ip}:${topo.ports.tls};transport=tls`,
      tls: { verify: false },
    });
    await uasSucceeded(topo);
    expect(r.outcome, r.reason).toBe("answered");
  });

  describe("mutual TLS (the proxy demands a client certificate from the CA)", () => {
    const mtls = (): Partial<KamailioOptions> => ({
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert, requireClientCert: true },
    });

    it("with our client certificate and key: answered", async () => {
      const topo = await startTopology("uas-answer", answerKeys, mtls());
      const r = await call(topo.target, {
        transport: "tls",
        proxy: `sip:${ip}:${topo.ports.tls};transport=tls`,
        tls: {
          verify: true,
          ca: ca(),
          cert: readFileSync(pki.clientCert, "utf8"),
          key: readFileSync(pki.clientKey, "utf8"),
        },
      });
      await uasSucceeded(topo);
      expect(r.outcome, r.reason).toBe("answered");
    });

    it("without a client certificate: the handshake fails, a transport_error, and nothing reaches the UAS", async () => {
      const topo = await startTopology("uas-answer", answerKeys, mtls());
      const r = await call(topo.target, {
        transport: "tls",
        proxy: `sip:${ip}:${topo.ports.tls};transport=tls`,
        tls: { verify: true, ca: ca() },
        timeoutSeconds: 5,
      });
      await uasUntouched(topo);
      expect(r.outcome, r.reason).toBe("transport_error");
      expect(r.finalStatus).toBeNull();
      // TLS 1.3: the client's side of the handshake completes before the server has seen the
      // (empty) certificate, so the refusal is the server's certificate_required alert on a
      // connection that counted as up; it must still end the call at once. When our INVITE is
      // already on its way as the server closes, the kernel reports a reset before the alert is
      // read: both say the server dropped us, and neither may be blamed on the far end's SIP.
      expect(r.reason).toMatch(
        new RegExp(
          `^TLS connection to ${reEscape(ip)}:${topo.ports.tls} (refused our TLS client certificate .*CERTIFICATE_REQUIRED.*--tls-cert|reset by peer)`,
        ),
      );
      expect(r.timings.total).toBeLessThan(2);
    });

    it("the CLI reads --tls-ca, --tls-cert and --tls-key from files: answered, exit code 0", async () => {
      const topo = await startTopology("uas-answer", answerKeys, mtls());
      const run = await runCli([
        "call",
        topo.target,
        "-t",
        "tls",
        "--proxy",
        `sip:${ip}:${topo.ports.tls};transport=tls`,
        "--tls-ca",
        pki.caCert,
        "--tls-cert",
        pki.clientCert,
        "--tls-key",
        pki.clientKey,
        "--hold",
        "0.2",
        "--json",
      ]);
      await uasSucceeded(topo);
      expect(run.code, `${run.stderr}\n${run.stdout}`).toBe(0);
      expect(run.json?.outcome).toBe("answered");
      expect(run.json?.transport).toBe("tls");
    });
  });
});

describe("the far end hangs up first, its BYE relayed by Kamailio over our connection", () => {
  it.each(["tcp", "tls"] as const)(
    "over %s: we answer the BYE there; answered, hangup remote",
    async (transport) => {
      const topo = await startTopology("uas-bye-first", { hangup_ms: "300" });
      const proxyAddr = `${ip}:${transport === "tls" ? topo.ports.tls : topo.ports.tcp}`;
      const r = await call(topo.target, {
        transport,
        proxy: `sip:${proxyAddr};transport=${transport}`,
        tls: { verify: true, ca: ca() },
        holdSeconds: 5,
      });
      const s = await uasSucceeded(topo);
      expect(r.outcome, r.reason).toBe("answered");
      expect(r.hangup).toBe("remote");
      expect(r.trace.map((e) => e.method ?? e.status)).toEqual(["INVITE", 100, 200, "ACK", "BYE", 200]);
      // The proxy had no other way back to us: we listen nowhere, only the connection is ours.
      expect(new Set(r.trace.map((e) => `${e.transport} ${e.local} ${e.remote}`))).toEqual(
        new Set([`${transport.toUpperCase()} ${r.local} ${proxyAddr}`]),
      );
      expect(r.timings.duration).toBeGreaterThan(0.28);
      expect(r.timings.sdd).toBeNull();
      expect(r.timings.total).toBeLessThan(2.5);
      // Our 200 reached the UAS through the proxy (its fixture fails otherwise).
      expect(
        sippLogEntries(s.messageLog).some(
          (e) => e.direction === "received" && /^SIP\/2\.0 200 /.test(e.text),
        ),
      ).toBe(true);
    },
  );
});

describe("Kamailio challenging the INVITE with 407", () => {
  const auth: Partial<KamailioOptions> = { authUser: "probe", authPassword: "pw-407-right" };

  async function challenged(options: Partial<TestCallOptions>) {
    const topo = await startTopology("uas-answer", answerKeys, auth);
    const transport = options.transport ?? "udp";
    const proxyUri = `sip:${ip}:${topo.ports.udp}${transport === "udp" ? "" : `;transport=${transport}`}`;
    const r = await call(topo.target, { proxy: proxyUri, ...options });
    return { topo, r };
  }

  it.each(["udp", "tcp"] as const)(
    "right credentials over %s: the retry with Proxy-Authorization is answered, one challenge counted",
    async (transport) => {
      const { topo, r } = await challenged({
        transport,
        credentials: { username: "probe", password: "pw-407-right" },
      });
      const s = await uasSucceeded(topo);
      expect(r.outcome, r.reason).toBe("answered");
      expect(r.authChallenges).toBe(1);
      expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> INVITE", "> ACK", "> BYE"]);
      const retry = sent(r, "INVITE")[1]!.message;
      expect(retry).toMatch(/^Proxy-Authorization: Digest .*username="probe"/m);
      expect(retry).toMatch(/^Proxy-Authorization: Digest .*realm="probe112\.test"/m);
      expect(retry).toMatch(/^Route: <sip:.*;lr>\r$/m);
      // The challenge is not the far end's answer: SRD runs to the first provisional after it.
      const challenge = r.trace.find((e) => e.status === 407)!;
      expect(r.timings.srd).toBeGreaterThan(challenge.t);
      expect(received(s, "INVITE")[0]).not.toMatch(/Proxy-Authorization/i);
      expect(JSON.stringify(r)).not.toContain("pw-407-right");
    },
  );

  it("a wrong password: the proxy answers 403, a client_error, and the password appears nowhere in the result", async () => {
    const { topo, r } = await challenged({ credentials: { username: "probe", password: "pw-407-WRONG" } });
    await uasUntouched(topo);
    expect(r.outcome).toBe("client_error");
    expect(r.finalStatus).toBe(403);
    expect(r.authChallenges).toBe(1);
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> INVITE", "> ACK"]);
    expect(JSON.stringify(r)).not.toContain("pw-407-WRONG");
  });

  it("no credentials: the 407 itself ends the call as auth_failure", async () => {
    const { topo, r } = await challenged({});
    await uasUntouched(topo);
    expect(r.outcome).toBe("auth_failure");
    expect(r.finalStatus).toBe(407);
    expect(r.reason).toMatch(/^407 .*credentials missing or rejected/);
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK"]);
  });
});
