import { afterEach, describe, type ExpectStatic, expect, it } from "vitest";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { metricValue, type ResponderRun, startResponder } from "../support/responder.js";
import {
  type SippLogEntry,
  type SippResult,
  sippLogEntries,
  sippStartLines,
  startSipp,
} from "../support/sipp.js";

// Real peer: SIPp as the caller, against the real `probe112 responder` process. Each SIPp runs on
// a loopback address of its own (its media socket binds there), and the responder on another.

const NAME = "Test PSAP Noord (probe112)";
let responder: ResponderRun | undefined;

afterEach(async () => {
  const r = responder;
  responder = undefined;
  if (r) expect((await r.stop()).code, "the responder exits 0 on SIGTERM").toBe(0);
});

/** A responder on UDP that lets every loopback caller in unless `args` says otherwise. */
async function startUdpResponder(args: string[] = [], allow = ["127.0.0.0/8"]): Promise<ResponderRun> {
  const ip = uniqueLoopback();
  const port = await freePort("udp", ip);
  responder = await startResponder({
    args: ["--listen", `udp:${ip}:${port}`, "--name", NAME, ...allow.flatMap((a) => ["--allow", a]), ...args],
    journal: true,
  });
  return responder;
}

interface CallerOptions {
  keys?: Record<string, string>;
  ip?: string;
  calls?: number;
  extraArgs?: string[];
  timeoutS?: number;
}

async function caller(scenario: string, r: ResponderRun, o: CallerOptions = {}) {
  const ip = o.ip ?? uniqueLoopback();
  const sipp = startSipp({
    scenario,
    role: "uac",
    transport: "u1",
    ip,
    port: await freePort("udp", ip),
    remote: r.address("udp"),
    keys: o.keys,
    calls: o.calls,
    extraArgs: o.extraArgs,
    timeoutS: o.timeoutS ?? 20,
  });
  await sipp.ready;
  return { sipp, ip };
}

function reEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function received(result: SippResult): SippLogEntry[] {
  return sippLogEntries(result.messageLog).filter((e) => e.direction === "received");
}

/** The text/plain part of the first 200 to the INVITE that SIPp received. */
function identityLines(result: SippResult): string[] {
  const ok = received(result).find(
    (e) => /^SIP\/2\.0 200 /.test(e.text) && /^CSeq: \d+ INVITE$/m.test(e.text),
  );
  expect(ok, "a 200 to the INVITE").toBeDefined();
  const boundary = /^Content-Type: multipart\/mixed;\s*boundary="?([^";\n]+)"?/im.exec(ok!.text)?.[1];
  expect(boundary, "a multipart/mixed 200").toBeDefined();
  const text = ok!.text.split(`--${boundary}`).find((part) => /^\s*Content-Type: text\/plain/im.test(part));
  expect(text, "a text/plain part").toBeDefined();
  return text!.split(/\n\n/)[1]!.trim().split("\n");
}

const identity = (name: string, service: string) => ({
  expect_name: reEscape(name),
  expect_service: reEscape(service),
});

describe("SIPp test calls to the responder over UDP", () => {
  it("urn:service:test.sos in Request-URI and To: 200 with the SDP answer and an identity part naming the service; ACK; BYE 200", async () => {
    const r = await startUdpResponder();
    const { sipp, ip } = await caller("uac-test-call", r, {
      keys: {
        request_uri: "urn:service:test.sos",
        to_uri: "urn:service:test.sos",
        ...identity(NAME, "urn:service:test.sos"),
      },
    });
    const s = await sipp.expectSuccess();
    expect(sippStartLines(s.messageLog, "received")).toEqual([
      "SIP/2.0 100 Trying",
      "SIP/2.0 200 OK",
      "SIP/2.0 200 OK",
    ]);
    const lines = identityLines(s);
    expect(lines[0]).toBe(NAME);
    expect(lines[1]).toBe("urn:service:test.sos");
    expect(lines).toContain("location: none received");
    expect(lines.find((l) => l.startsWith("received: "))).toMatch(
      new RegExp(`from ${reEscape(ip)}:\\d+ over UDP$`),
    );
    const rec = await r.waitForJournal((j) => j.type === "test_call");
    expect(rec).toMatchObject({
      served: "urn:service:test.sos",
      requestUri: "urn:service:test.sos",
      outcome: "completed",
      endedBy: "remote",
      access: "network",
    });
  });

  it("urn:service:test.sos.fire is a sub-service of urn:service:test.sos: served, and the identity names the sub-service", async () => {
    const r = await startUdpResponder();
    const { sipp } = await caller("uac-test-call", r, {
      keys: {
        request_uri: "urn:service:test.sos.fire",
        to_uri: "urn:service:test.sos.fire",
        ...identity(NAME, "urn:service:test.sos.fire"),
      },
    });
    const s = await sipp.expectSuccess();
    expect(identityLines(s)[1]).toBe("urn:service:test.sos.fire");
    expect(await r.waitForJournal((j) => j.type === "test_call")).toMatchObject({
      served: "urn:service:test.sos",
      outcome: "completed",
    });
  });

  it("urn:service:sos, a real emergency call: 404 at once, never rung, never answered", async () => {
    const r = await startUdpResponder(["--ring-ms", "2000"]);
    const { sipp } = await caller("uac-test-reject", r, {
      keys: { request_uri: "urn:service:sos", to_uri: "urn:service:sos", expect_code: "404" },
    });
    const s = await sipp.expectSuccess();
    expect(sippStartLines(s.messageLog, "received")).toEqual(["SIP/2.0 100 Trying", "SIP/2.0 404 Not Found"]);
    const rec = await r.waitForJournal((j) => j.type === "rejected");
    expect(rec).toMatchObject({ reason: "not_served", status: 404 });
    expect(r.journal().filter((j) => j.type === "test_call")).toEqual([]);
  });

  it("a number the responder does not serve: 404", async () => {
    const r = await startUdpResponder();
    const { sipp } = await caller("uac-test-reject", r, {
      keys: { request_uri: `sip:113@${r.address("udp")}`, to_uri: "sip:113@example.net", expect_code: "404" },
    });
    await sipp.expectSuccess();
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({ reason: "not_served" });
  });

  it("a caller from an address outside --allow: 403", async () => {
    const allowed = uniqueLoopback();
    let denied = uniqueLoopback();
    while (denied === allowed) denied = uniqueLoopback();
    const r = await startUdpResponder([], [`${allowed}/32`]);
    const { sipp } = await caller("uac-test-reject", r, {
      ip: denied,
      keys: { request_uri: `sip:112@${r.address("udp")}`, expect_code: "403" },
    });
    await sipp.expectSuccess();
    const rec = await r.waitForJournal((j) => j.type === "rejected");
    expect(rec).toMatchObject({ reason: "forbidden_network", status: 403 });
    expect(rec.source).toMatch(new RegExp(`^${reEscape(denied)}:`));
  });

  it("OPTIONS to the host, without a user part: 200 with Allow", async () => {
    const r = await startUdpResponder();
    const { sipp } = await caller("uac-options-host", r);
    await sipp.expectSuccess();
  });

  it("an INVITE without an SDP offer: 488", async () => {
    const r = await startUdpResponder();
    const { sipp } = await caller("uac-no-sdp", r, {
      keys: { request_uri: `sip:112@${r.address("udp")}`, expect_code: "488" },
    });
    await sipp.expectSuccess();
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      reason: "bad_sdp",
      status: 488,
    });
  });

  it("CANCEL while ringing (--ring-ms): 200 to the CANCEL, 487 to the INVITE, journalled as cancelled", async () => {
    const r = await startUdpResponder(["--ring-ms", "3000"]);
    const { sipp } = await caller("uac-cancel", r, { keys: { cancel_ms: "300" }, extraArgs: ["-s", "112"] });
    const s = await sipp.expectSuccess();
    expect(sippStartLines(s.messageLog, "received")).toEqual([
      "SIP/2.0 100 Trying",
      "SIP/2.0 180 Ringing",
      "SIP/2.0 200 OK",
      "SIP/2.0 487 Request Terminated",
    ]);
    expect(await r.waitForJournal((j) => j.type === "test_call")).toMatchObject({ outcome: "cancelled" });
  });

  it("a tel: From and a tel: To are accepted: answered, the caller ID read from the tel: URI", async () => {
    const r = await startUdpResponder();
    const { sipp } = await caller("uac-test-call", r, {
      keys: {
        request_uri: `sip:112@${r.address("udp")};user=phone`,
        to_uri: "tel:112",
        from_uri: "tel:+31-20-123-4567",
        ...identity(NAME, "112"),
      },
    });
    await sipp.expectSuccess();
    const rec = await r.waitForJournal((j) => j.type === "test_call");
    expect(rec).toMatchObject({ outcome: "completed", served: "112" });
    expect(rec.callerId).toMatchObject({ received: "+31201234567", source: "from" });
  });

  it("a urn: To behind a Request-URI that names the answering point itself (RFC 5031 §7): served from the To", async () => {
    const r = await startUdpResponder();
    const { sipp } = await caller("uac-test-call", r, {
      keys: {
        request_uri: `sip:psap@${r.address("udp")}`,
        to_uri: "urn:service:test.sos",
        from_uri: "tel:+31201234567",
        ...identity(NAME, "urn:service:test.sos"),
      },
    });
    const s = await sipp.expectSuccess();
    expect(identityLines(s)[1]).toBe("urn:service:test.sos");
  });

  it("the caller does not hang up: the responder sends BYE after --hold and SIPp answers it", async () => {
    const r = await startUdpResponder(["--hold", "1"]);
    const { sipp } = await caller("uac-bye-first", r, { extraArgs: ["-s", "112"] });
    const s = await sipp.expectSuccess();
    const entries = sippLogEntries(s.messageLog);
    const ok = entries.find((e) => e.direction === "received" && /^SIP\/2\.0 200 /.test(e.text))!;
    const bye = entries.find((e) => e.direction === "received" && e.text.startsWith("BYE "))!;
    expect(bye, "a BYE from the responder").toBeDefined();
    expect((bye.at - ok.at) / 1000).toBeGreaterThan(0.9);
    expect((bye.at - ok.at) / 1000).toBeLessThan(1.6);
    expect(await r.waitForJournal((j) => j.type === "test_call")).toMatchObject({
      outcome: "completed",
      endedBy: "local",
      byeStatus: 200,
    });
  });
});

describe("limits", () => {
  it("over --max-concurrent: 486 while the open calls hold, and those calls complete", async () => {
    const metricsPort = await freePort("tcp");
    const r = await startUdpResponder([
      "--max-concurrent",
      "2",
      // One SIPp instance holds both calls: let one caller fill the whole limit.
      "--max-concurrent-per-caller",
      "2",
      "--metrics",
      `127.0.0.1:${metricsPort}`,
      "--hold",
      "30",
    ]);
    const holders = await caller("uac-test-call", r, {
      calls: 2,
      extraArgs: ["-l", "2", "-r", "20"],
      keys: { request_uri: `sip:112@${r.address("udp")}`, hold_ms: "4000", ...identity(NAME, "112") },
    });
    const deadline = Date.now() + 3000;
    while (metricValue(await r.scrape(), "probe112_responder_concurrent_tests") !== 2) {
      expect(Date.now(), "two calls in progress").toBeLessThan(deadline);
      await new Promise((res) => setTimeout(res, 50));
    }
    const third = await caller("uac-test-reject", r, {
      keys: { request_uri: `sip:112@${r.address("udp")}`, expect_code: "486" },
    });
    await third.sipp.expectSuccess();
    await holders.sipp.expectSuccess();
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      reason: "busy_concurrency",
    });
    const m = await r.scrape();
    expect(metricValue(m, "probe112_responder_rejects_total", { reason: "busy_concurrency" })).toBe(1);
  });

  it("over --max-concurrent-per-caller: one caller cannot take every slot; another caller is still answered", async () => {
    const metricsPort = await freePort("tcp");
    const r = await startUdpResponder([
      "--max-concurrent",
      "10",
      "--max-concurrent-per-caller",
      "1",
      "--hold",
      "30",
      "--metrics",
      `127.0.0.1:${metricsPort}`,
    ]);
    const uri = `sip:112@${r.address("udp")}`;
    const busyIp = uniqueLoopback();
    const holder = await caller("uac-test-call", r, {
      ip: busyIp,
      keys: { request_uri: uri, hold_ms: "3000", ...identity(NAME, "112") },
    });
    const deadline = Date.now() + 3000;
    while (metricValue(await r.scrape(), "probe112_responder_concurrent_tests") !== 1) {
      expect(Date.now(), "the first call in progress").toBeLessThan(deadline);
      await new Promise((res) => setTimeout(res, 50));
    }
    const second = await caller("uac-test-reject", r, {
      ip: busyIp,
      keys: { request_uri: uri, expect_code: "486" },
    });
    await second.sipp.expectSuccess();
    const other = await caller("uac-test-call", r, {
      ip: uniqueLoopback(),
      keys: { request_uri: uri, hold_ms: "100", ...identity(NAME, "112") },
    });
    await other.sipp.expectSuccess();
    await holder.sipp.expectSuccess();
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      reason: "busy_caller",
      status: 486,
    });
  });

  it("over --per-caller-per-minute: the same caller gets 486, another caller is still answered", async () => {
    const r = await startUdpResponder(["--per-caller-per-minute", "2"]);
    const ip = uniqueLoopback();
    const uri = `sip:112@${r.address("udp")}`;
    const first = await caller("uac-test-call", r, {
      ip,
      calls: 2,
      keys: { request_uri: uri, hold_ms: "100", ...identity(NAME, "112") },
    });
    await first.sipp.expectSuccess();
    const again = await caller("uac-test-reject", r, { ip, keys: { request_uri: uri, expect_code: "486" } });
    await again.sipp.expectSuccess();
    expect(await r.waitForJournal((j) => j.type === "rejected")).toMatchObject({
      reason: "busy_rate",
      status: 486,
    });
    const other = await caller("uac-test-call", r, {
      keys: { request_uri: uri, hold_ms: "100", ...identity(NAME, "112") },
    });
    await other.sipp.expectSuccess();
  });
});

describe.concurrent("a caller that never ACKs the 200", () => {
  // T1 is fixed at 500 ms in the answering point (no option shortens it), so these take 32 s;
  // they run side by side, each with a responder of its own.
  // Concurrent tests must assert with their own context's expect.
  async function neverAcked(hold: string, expect: ExpectStatic) {
    const ip = uniqueLoopback();
    const r = await startResponder({
      args: ["--listen", `udp:${ip}:${await freePort("udp", ip)}`, "--allow", "127.0.0.0/8", "--hold", hold],
      journal: true,
    });
    try {
      const { sipp } = await caller("uac-no-ack", r, {
        keys: { request_uri: `sip:112@${r.address("udp")}`, bye_wait_ms: "45000" },
        timeoutS: 50,
      });
      const s = await sipp.expectSuccess();
      const got = received(s);
      const oks = got.filter((e) => /^SIP\/2\.0 200 /.test(e.text));
      const bye = got.find((e) => e.text.startsWith("BYE "));
      expect(bye, "a BYE once the 200 went unacknowledged").toBeDefined();
      const rec = await r.waitForJournal((j) => j.type === "test_call");
      return { oks, byeAfter: (bye!.at - oks[0]!.at) / 1000, rec };
    } finally {
      expect((await r.stop()).code).toBe(0);
    }
  }

  it("the responder resends the 200 for 64·T1 = 32 s, then gives up with a BYE, journalled as no_ack", async ({
    expect,
  }) => {
    const { oks, byeAfter, rec } = await neverAcked("120", expect);
    // RFC 3261 §13.3.1.4: resent at T1, 2·T1, ... capped at T2, for 64·T1 in all.
    expect(oks.length).toBeGreaterThanOrEqual(10);
    expect.soft(byeAfter).toBeGreaterThan(31.5);
    expect.soft(byeAfter).toBeLessThan(33);
    expect.soft(rec).toMatchObject({ outcome: "no_ack", endedBy: "no_ack" });
  }, 70_000);

  it("a --hold shorter than 64·T1 does not hang up before the ACK: no BYE until the 200 times out (RFC 3261 §15)", async ({
    expect,
  }) => {
    const { oks, byeAfter } = await neverAcked("2", expect);
    expect.soft(byeAfter).toBeGreaterThan(31.5);
    expect.soft(oks.length).toBeGreaterThanOrEqual(10);
  }, 70_000);
});
