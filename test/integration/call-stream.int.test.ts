import { afterEach, describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import { call, runCli, traceLines } from "../support/call.js";
import { createNetns, type Netns, ruleCounters } from "../support/netns.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { run } from "../support/process.js";
import { type SippRun, type SippTransport, sippLogEntries, startSipp } from "../support/sipp.js";

// Real peer: SIPp answers over TCP (one connection per call, -t t1) and on the IPv6 loopback.

const ip = uniqueLoopback();

async function sippUas(
  scenario: string,
  opts: { transport?: SippTransport; host?: string; keys?: Record<string, string>; timeoutS?: number } = {},
) {
  const transport = opts.transport ?? "t1";
  const host = opts.host ?? ip;
  const port = await freePort(transport === "u1" ? "udp" : "tcp", host);
  const sipp = startSipp({
    scenario,
    role: "uas",
    transport,
    ip: host,
    port,
    keys: opts.keys ?? {},
    timeoutS: opts.timeoutS ?? 20,
  });
  await sipp.ready;
  const uriHost = host.includes(":") ? `[${host}]` : host;
  return { sipp, target: `sip:112@${uriHost}:${port}`, port };
}

function received(sipp: { messageLog: string }, method: string): string[] {
  return sippLogEntries(sipp.messageLog)
    .filter((e) => e.direction === "received" && e.text.startsWith(`${method} `))
    .map((e) => e.text);
}

function reEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Every message of the call crossed one and the same connection. */
function oneConnection(r: TestCallResult): void {
  expect(new Set(r.trace.map((e) => `${e.local} ${e.remote}`))).toEqual(new Set([`${r.local} ${r.remote}`]));
}

describe("TCP test calls against SIPp", () => {
  it("answered after 180: connection setup is measured apart and every timing matches the far end's delays", async () => {
    const { sipp, target, port } = await sippUas("uas-answer", {
      keys: { ring_ms: "300", answer_ms: "500" },
    });
    // The kernel's view of our connection, read while the call is up, is the independent witness
    // of the port the sent-by must carry.
    let sockets: Promise<string> | undefined;
    const r = await call(target, {
      transport: "tcp",
      holdSeconds: 0.6,
      onTrace: () => {
        sockets ??= run("ss", ["-H", "-t", "-n", "state", "established", "dst", `${ip}:${port}`]);
      },
    });
    const s = await sipp.expectSuccess();
    expect(r.outcome).toBe("answered");
    expect(r.finalStatus).toBe(200);
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 100 Trying",
      "< 180 Ringing",
      "< 200 OK",
      "> ACK",
      "> BYE",
      "< 200 OK",
    ]);
    expect(r.remote).toBe(`${ip}:${port}`);
    oneConnection(r);
    expect(r.trace.every((e) => e.transport === "TCP")).toBe(true);
    const t = r.timings;
    expect(t.connect).not.toBeNull();
    expect(t.connect).toBeGreaterThan(0);
    expect(t.connect).toBeLessThan(0.1);
    expect(t.firstResponse).toBeLessThan(0.1);
    expect(t.srd).toBeGreaterThan(0.28);
    expect(t.srd).toBeLessThan(0.45);
    expect(t.answer).toBeGreaterThan(0.78);
    expect(t.answer).toBeLessThan(0.95);
    expect(t.sdd).toBeLessThan(0.1);
    expect(t.duration).toBeGreaterThan(0.59);
    expect(t.duration).toBeLessThan(0.8);
    expect(r.hangup).toBe("local");
    expect(r.byeStatus).toBe(200);
    // A reliable transport is never retransmitted over (RFC 3261 §17.1.1.2: Timer A is UDP only).
    expect(r.retransmissions).toEqual({ sent: {}, received: 0 });

    // Our sent-by is the connection's real local port, not 5060 and not a listening port we lack.
    const local = r.local!;
    expect((await sockets!).trim().split(/\s+/)).toContain(local);
    expect(local).not.toMatch(/:5060$/);
    const invite = received(s, "INVITE")[0]!;
    expect(invite).toMatch(
      new RegExp(`^Via: SIP/2\\.0/TCP ${reEscape(local)};branch=z9hG4bK[^\\n]*;rport`, "m"),
    );
    expect(invite).toMatch(new RegExp(`^Contact: <sip:probe112@${reEscape(local)};transport=tcp>`, "m"));
    for (const method of ["ACK", "BYE"]) {
      expect(received(s, method)[0]).toMatch(new RegExp(`^Via: SIP/2\\.0/TCP ${reEscape(local)};`, "m"));
    }
  });

  it("connection refused: a transport_error that says so, at once and without a trace", async () => {
    const port = await freePort("tcp", ip);
    const r = await call(`sip:112@${ip}:${port}`, { transport: "tcp", timeoutSeconds: 10 });
    expect(r.outcome).toBe("transport_error");
    expect(r.reason).toMatch(new RegExp(`^TCP connection to ${reEscape(ip)}:${port} refused`));
    expect(r.finalStatus).toBeNull();
    expect(r.timings.connect).toBeNull();
    expect(r.timings.total).toBeLessThan(1);
    expect(r.trace).toEqual([]);
  });

  it("no answer: the ring timeout CANCELs on the INVITE's connection and the 487 makes it no_answer", async () => {
    const { sipp, target } = await sippUas("uas-no-answer", { keys: { ring_ms: "100" } });
    const r = await call(target, { transport: "tcp", ringTimeoutSeconds: 1 });
    const s = await sipp.expectSuccess();
    expect(r.outcome).toBe("no_answer");
    expect(r.finalStatus).toBe(487);
    expect(r.reason).toMatch(/ring timeout of 1 s: CANCEL sent, 487/);
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 100 Trying",
      "< 180 Ringing",
      "> CANCEL",
      "< 200 OK",
      "< 487 Request Terminated",
      "> ACK",
    ]);
    oneConnection(r);
    const cancel = r.trace.find((e) => e.method === "CANCEL")!;
    expect(cancel.t).toBeGreaterThan(0.95);
    expect(cancel.t).toBeLessThan(1.2);
    // RFC 3261 §9.1: the CANCEL's Via equals the INVITE's (same branch, same sent-by).
    const inviteVia = received(s, "INVITE")[0]!.match(/^Via: .*$/m)![0];
    expect(received(s, "CANCEL")[0]!.match(/^Via: .*$/m)![0]).toBe(inviteVia);
  });

  it("the far end hangs up first: its BYE arrives on our connection and is answered there", async () => {
    const { sipp, target } = await sippUas("uas-bye-first", { keys: { hangup_ms: "300" } });
    const r = await call(target, { transport: "tcp", holdSeconds: 5 });
    await sipp.expectSuccess();
    expect(r.outcome).toBe("answered");
    expect(r.hangup).toBe("remote");
    expect(traceLines(r)).toEqual(["> INVITE", "< 100 Trying", "< 200 OK", "> ACK", "< BYE", "> 200 OK"]);
    oneConnection(r);
    expect(r.timings.duration).toBeGreaterThan(0.28);
    expect(r.timings.duration).toBeLessThan(0.6);
    expect(r.timings.total).toBeLessThan(2);
  });
});

describe("TCP connection resets (SIPp and the CLI in a network namespace)", () => {
  let ns: Netns | undefined;
  let sipp: SippRun | undefined;
  const host = "127.0.0.1";
  const port = 5060;

  afterEach(async () => {
    await sipp?.stop(500);
    sipp = undefined;
    await ns?.destroy();
    ns = undefined;
  });

  /**
   * SIPp answers in a fresh namespace where the kernel answers the TCP segment carrying `match`
   * with a RST: the connection is up and everything before that segment passes, so the reset
   * lands at a chosen point of the call, every time.
   */
  async function resetOn(match: string) {
    ns = await createNetns();
    sipp = startSipp({
      scenario: "uas-answer",
      role: "uas",
      transport: "t1",
      ip: host,
      port,
      netns: ns.name,
      keys: { ring_ms: "0", answer_ms: "0" },
      timeoutS: 15,
    });
    await sipp.ready;
    await ns.iptables([
      "-A",
      "INPUT",
      "-p",
      "tcp",
      "--dport",
      String(port),
      "-m",
      "string",
      "--string",
      match,
      "--algo",
      "bm",
      "-j",
      "REJECT",
      "--reject-with",
      "tcp-reset",
    ]);
    const started = Date.now();
    // A hung CLI fails here rather than at the test timeout; afterEach then kills it with the namespace.
    const run = await withDeadline(
      runCli(["call", `sip:112@${host}:${port}`, "-t", "tcp", "--hold", "0.3", "--timeout", "10", "--json"], {
        netns: ns.name,
      }),
      8000,
      "probe112 call still running 8 s after a reset (its --timeout is 10 s)",
    );
    const elapsed = (Date.now() - started) / 1000;
    const [rule] = await ruleCounters(ns);
    expect(rule!.target).toBe("REJECT");
    expect(rule!.packets, "the reset rule never fired").toBeGreaterThan(0);
    const far = await sipp.stop(500);
    // No crash: a JSON report on stdout, no stack trace, the exit code of a failed call.
    expect(run.stderr).not.toMatch(/Uncaught|Unhandled|TypeError|RangeError|\n\s+at .*:\d+:\d+/);
    expect(run.code, run.stderr).toBe(1);
    expect(run.json, run.stdout).toBeDefined();
    return { r: run.json!, elapsed, far };
  }

  it("reset after the answer: transport_error with the 200 kept, exit code 1, neither crash nor hang", async () => {
    // INVITE and ACK pass; the segment carrying our BYE draws the RST.
    const { r, elapsed, far } = await resetOn("BYE sip");
    expect(r.outcome).toBe("transport_error");
    expect(r.finalStatus).toBe(200);
    expect(r.reason).toMatch(
      new RegExp(`^answered, then TCP connection to ${reEscape(host)}:${port} reset by peer`),
    );
    expect(r.hangup).toBe("local");
    expect(r.byeStatus).toBeNull();
    expect(traceLines(r, "sent")).toEqual(["> INVITE", "> ACK", "> BYE"]);
    expect(r.timings.answer).not.toBeNull();
    expect(r.timings.sdd).toBeNull();
    // Well inside --timeout: the reset ends the call, nothing waits for Timer F.
    expect(elapsed).toBeLessThan(5);
    expect(received(far, "INVITE")).toHaveLength(1);
    expect(received(far, "ACK")).toHaveLength(1);
    expect(received(far, "BYE")).toEqual([]);
  });

  it("reset of the INVITE itself: transport_error without a final status, at once", async () => {
    const { r, elapsed, far } = await resetOn("INVITE sip");
    expect(r.outcome).toBe("transport_error");
    expect(r.finalStatus).toBeNull();
    expect(r.reason).toMatch(new RegExp(`^TCP connection to ${reEscape(host)}:${port} reset by peer`));
    expect(r.hangup).toBeNull();
    expect(traceLines(r)).toEqual(["> INVITE"]);
    expect(elapsed).toBeLessThan(5);
    expect(received(far, "INVITE")).toEqual([]);
  });
});

describe("IPv6: test calls to SIPp on ::1", () => {
  it.each([
    ["UDP", "u1", "udp"],
    ["TCP", "t1", "tcp"],
  ] as const)(
    "over %s: answered, with [::1] as the Via sent-by and Contact host",
    async (name, sippTransport, transport) => {
      const { sipp, target, port } = await sippUas("uas-answer", {
        transport: sippTransport,
        host: "::1",
        keys: { ring_ms: "0", answer_ms: "0" },
      });
      const r = await call(target, { transport });
      const s = await sipp.expectSuccess();
      expect(r.outcome).toBe("answered");
      expect(r.remote).toBe(`[::1]:${port}`);
      expect(r.local).toMatch(/^\[::1\]:\d+$/);
      const invite = received(s, "INVITE")[0]!;
      expect(invite).toMatch(new RegExp(`^INVITE sip:112@\\[::1\\]:${port} SIP/2\\.0$`, "m"));
      expect(invite).toMatch(new RegExp(`^Via: SIP/2\\.0/${name} ${reEscape(r.local!)};branch=`, "m"));
      expect(invite).toMatch(
        new RegExp(`^Contact: <sip:probe112@${reEscape(r.local!)};transport=${transport}>`, "m"),
      );
      expect(invite).toMatch(/^c=IN IP6 ::1$/m);
      expect(received(s, "BYE")).toHaveLength(1);
    },
  );
});
