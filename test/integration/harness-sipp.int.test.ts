import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writePcmaTone } from "../support/audio.js";
import { freeMediaPort, freeUdpTcpPort, uniqueLoopback } from "../support/ports.js";
import {
  describeSippResult,
  expectedByeDigest,
  fixturePath,
  removeSippDir,
  type SippOptions,
  type SippResult,
  type SippTransport,
  sippLogEntries,
  sippStartLines,
  startSipp,
} from "../support/sipp.js";
import { startCapture } from "../support/tshark.js";

// SIPp UAC against each SIPp UAS fixture, so a later engine failure against a fixture is the
// engine's fault and not the fixture's.

const ip = uniqueLoopback();

interface PairOptions {
  uas: string;
  uac: string;
  transport?: SippTransport;
  uasKeys?: Record<string, string>;
  uacKeys?: Record<string, string>;
  uasArgs?: string[];
  uacArgs?: string[];
  /** Called with the UAS port before the UAC starts (e.g. to compute digests). */
  uacArgsFor?: (uasPort: number) => string[];
  timeoutS?: number;
}

interface PairResult {
  uas: SippResult;
  uac: SippResult;
  uasPort: number;
  explain: () => string;
}

async function runPair(options: PairOptions): Promise<PairResult> {
  const transport = options.transport ?? "u1";
  const [uasPort, uacPort] = [await freeUdpTcpPort(ip), await freeUdpTcpPort(ip)];
  const common: Pick<SippOptions, "transport" | "ip" | "timeoutS"> = {
    transport,
    ip,
    timeoutS: options.timeoutS ?? 20,
  };
  const uas = startSipp({
    ...common,
    scenario: options.uas,
    role: "uas",
    port: uasPort,
    keys: options.uasKeys,
    extraArgs: options.uasArgs,
  });
  await uas.ready;
  const uac = startSipp({
    ...common,
    scenario: options.uac,
    role: "uac",
    port: uacPort,
    remote: `${ip}:${uasPort}`,
    keys: options.uacKeys,
    extraArgs: [...(options.uacArgs ?? []), ...(options.uacArgsFor?.(uasPort) ?? [])],
  });
  const [uasResult, uacResult] = await Promise.all([uas.exit, uac.exit]);
  return {
    uas: uasResult,
    uac: uacResult,
    uasPort,
    explain: () => `${describeSippResult(uas, uasResult)}\n\n${describeSippResult(uac, uacResult)}`,
  };
}

function expectBothSucceeded(result: PairResult): void {
  if (result.uas.code !== 0 || result.uac.code !== 0) {
    expect.fail(`expected both SIPp instances to exit 0\n${result.explain()}`);
  }
}

describe("SIPp UAS fixtures against SIPp UAC", () => {
  it("uas-answer over UDP: 100, 180 and 200 after the keyed delays, ACK, BYE", async () => {
    const result = await runPair({
      uas: "uas-answer",
      uac: "uac-basic",
      uasKeys: { ring_ms: "300", answer_ms: "400" },
    });
    expectBothSucceeded(result);
    expect(sippStartLines(result.uas.messageLog, "sent")).toEqual([
      "SIP/2.0 100 Trying",
      "SIP/2.0 180 Ringing",
      "SIP/2.0 200 OK",
      "SIP/2.0 200 OK",
    ]);
    expect(sippStartLines(result.uas.messageLog, "received").map((l) => l.split(" ")[0])).toEqual([
      "INVITE",
      "ACK",
      "BYE",
    ]);
    const entries = sippLogEntries(result.uas.messageLog);
    const invite = entries.find((e) => e.text.startsWith("INVITE"))!;
    const ringing = entries.find((e) => e.text.startsWith("SIP/2.0 180"))!;
    const ok = entries.find((e) => e.text.startsWith("SIP/2.0 200") && e.text.includes("application/sdp"))!;
    expect(ringing.at - invite.at).toBeGreaterThanOrEqual(290);
    expect(ok.at - ringing.at).toBeGreaterThanOrEqual(390);
    expect(ok.text).toMatch(/^m=audio \d+ RTP\/AVP 8 101$/m);
    expect(ok.text).toContain("a=rtpmap:8 PCMA/8000");
    expect(ok.text).toContain("a=rtpmap:101 telephone-event/8000");
  });

  it("uas-answer over TCP", async () => {
    const result = await runPair({
      uas: "uas-answer",
      uac: "uac-basic",
      transport: "t1",
      uasKeys: { ring_ms: "0", answer_ms: "0" },
    });
    expectBothSucceeded(result);
    expect(result.uas.messageLog).toMatch(/TCP message received/);
    expect(result.uas.messageLog).toMatch(/^Via: SIP\/2.0\/TCP /m);
  });

  it("uas-answer-lossy: the plain call path, then the call lingers for linger_ms after the 200 to BYE", async () => {
    const started = performance.now();
    const result = await runPair({
      uas: "uas-answer-lossy",
      uac: "uac-basic",
      uasKeys: { linger_ms: "1500" },
    });
    const seconds = (performance.now() - started) / 1000;
    expectBothSucceeded(result);
    expect(sippStartLines(result.uas.messageLog, "received").map((l) => l.split(" ")[0])).toEqual([
      "INVITE",
      "ACK",
      "BYE",
    ]);
    // The UAS only exits once its last call is over, i.e. after the linger.
    expect(seconds).toBeGreaterThanOrEqual(1.5);
  });

  it("uas-answer-play: from the ACK on, audio_file goes out as PCMA from its media port to the caller's SDP port, looped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-play-"));
    const audio = writePcmaTone(join(dir, "tone.pcma"), { seconds: 0.4 });
    const uasMedia = await freeMediaPort(ip);
    let uacMedia = await freeMediaPort(ip);
    while (Math.abs(uacMedia - uasMedia) < 4) uacMedia = await freeMediaPort(ip);
    const capture = await startCapture({
      filter: `udp and src host ${ip} and src port ${uasMedia} and dst port ${uacMedia}`,
    });
    const result = await runPair({
      uas: "uas-answer-play",
      uac: "uac-basic",
      uasKeys: { audio_file: join(dir, "tone.pcma") },
      uacKeys: { hold_ms: "1000" },
      uasArgs: ["-mp", String(uasMedia)],
      uacArgs: ["-mp", String(uacMedia)],
    });
    await capture.stop();
    const packets = await capture.read({
      decodeAs: [`udp.port==${uacMedia},rtp`],
      fields: ["frame.time_epoch", "rtp.p_type", "rtp.seq", "rtp.payload"],
    });
    capture.remove();
    expectBothSucceeded(result);
    expect(sippLogEntries(result.uac.messageLog).find((e) => e.text.startsWith("SIP/2.0 200"))?.text).toMatch(
      new RegExp(`^m=audio ${uasMedia} RTP/AVP 8 101$`, "m"),
    );
    const ack = sippLogEntries(result.uas.messageLog).find(
      (e) => e.direction === "received" && /^ACK /.test(e.text),
    )!;
    // SIPp's log stamps to the millisecond (truncated); the capture to the microsecond.
    expect(Number(packets[0]?.["frame.time_epoch"]) * 1000).toBeGreaterThanOrEqual(ack.at);
    // 1 s of hold at 20 ms a packet, from a 0.4 s file: it must have wrapped around at least once.
    expect(packets.length).toBeGreaterThan(30);
    expect(packets.length).toBeLessThan(70);
    expect(new Set(packets.map((p) => p["rtp.p_type"]))).toEqual(new Set(["8"]));
    packets.forEach((p, i) => {
      const at = (i * 160) % audio.length;
      expect(p["rtp.payload"], `packet ${i}`).toBe(audio.subarray(at, at + 160).toString("hex"));
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it("uas-foreign-via: the 180 carries another host in its only Via, the 200 the caller's own", async () => {
    const result = await runPair({ uas: "uas-foreign-via", uac: "uac-basic", uasKeys: { answer_ms: "100" } });
    expectBothSucceeded(result);
    const got = sippLogEntries(result.uac.messageLog).filter((e) => e.direction === "received");
    const ringing = got.find((e) => e.text.startsWith("SIP/2.0 180"))!;
    expect(ringing.text.match(/^Via: /gm)).toHaveLength(1);
    expect(ringing.text).toMatch(/^Via: SIP\/2\.0\/UDP 192\.0\.2\.1:5060;branch=z9hG4bK-foreign-1$/m);
    const ok = got.find((e) => e.text.startsWith("SIP/2.0 200") && /CSeq: 1 INVITE/.test(e.text))!;
    expect(ok.text).toMatch(new RegExp(`^Via: SIP/2\\.0/UDP ${ip.replace(/\./g, "\\.")}:\\d+;`, "m"));
  });

  it("uas-stray-response: a 200 of no known call, with the caller's own sent-by, comes before the real answer", async () => {
    const result = await runPair({
      uas: "uas-stray-response",
      uac: "uac-basic",
      uasKeys: { answer_ms: "100" },
    });
    expectBothSucceeded(result);
    const sent = sippLogEntries(result.uas.messageLog).filter((e) => e.direction === "sent");
    const stray = sent[0]!;
    expect(stray.text).toMatch(/^SIP\/2\.0 200 OK$/m);
    expect(stray.text).toMatch(/^Call-ID: stray-1-\d+@192\.0\.2\.7$/m);
    expect(stray.text).toMatch(/^CSeq: 4711 INVITE$/m);
    const invite = sippLogEntries(result.uas.messageLog).find((e) => e.text.startsWith("INVITE"))!;
    const sentBy = /^Via: SIP\/2\.0\/UDP ([^;]+);/m.exec(invite.text)![1]!;
    expect(stray.text).toContain(`Via: SIP/2.0/UDP ${sentBy};branch=z9hG4bK-stray-1`);
    // SIPp's own UAC ignores it as well: it maps to none of its calls.
    expect(result.uac.errorLog).toMatch(/Discarding message which can't be mapped to a known SIPp call/);
  });

  it("uas-answer-183: 183 with SDP before the 200", async () => {
    const result = await runPair({ uas: "uas-answer-183", uac: "uac-basic" });
    expectBothSucceeded(result);
    const sent = sippLogEntries(result.uas.messageLog).filter((e) => e.direction === "sent");
    expect(sent.map((e) => e.text.split("\n")[0])).toEqual([
      "SIP/2.0 100 Trying",
      "SIP/2.0 183 Session Progress",
      "SIP/2.0 200 OK",
      "SIP/2.0 200 OK",
    ]);
    expect(sent[1]!.text).toContain("a=rtpmap:8 PCMA/8000");
  });

  it("uas-answer-direct: 200 without any provisional", async () => {
    const result = await runPair({ uas: "uas-answer-direct", uac: "uac-basic" });
    expectBothSucceeded(result);
    const sent = sippStartLines(result.uas.messageLog, "sent");
    expect(sent.every((l) => l === "SIP/2.0 200 OK")).toBe(true);
    expect(sippStartLines(result.uac.messageLog, "received").filter((l) => / 1\d\d /.test(l))).toEqual([]);
  });

  it.each([
    ["486", "Busy Here"],
    ["404", "Not Found"],
    ["503", "Service Unavailable"],
    ["480", "Temporarily Unavailable"],
    ["603", "Decline"],
    ["500", "Server Internal Error"],
    ["502", "Bad Gateway"],
  ])("uas-reject with reject_code %s", async (code, reason) => {
    const result = await runPair({
      uas: "uas-reject",
      uac: "uac-reject",
      uasKeys: { reject_code: code, reject_reason: reason, reject_ms: "50" },
      uacKeys: { expect_code: code },
    });
    expectBothSucceeded(result);
    expect(sippStartLines(result.uac.messageLog, "received")).toContain(`SIP/2.0 ${code} ${reason}`);
  });

  it("the self-test UAC really checks the status (a 486 where 404 is expected fails)", async () => {
    const result = await runPair({ uas: "uas-reject", uac: "uac-reject", uacKeys: { expect_code: "404" } });
    expect(result.uas.code, result.explain()).toBe(0);
    expect(result.uac.code, result.explain()).toBe(1);
    removeSippDir(result.uac);
  });

  it("uas-no-answer: rings until CANCEL, then 200 (CANCEL) and 487 (INVITE)", async () => {
    const result = await runPair({ uas: "uas-no-answer", uac: "uac-cancel" });
    expectBothSucceeded(result);
    const sent = sippLogEntries(result.uas.messageLog).filter((e) => e.direction === "sent");
    const terminated = sent.find((e) => e.text.startsWith("SIP/2.0 487"))!;
    expect(terminated.text).toMatch(/^CSeq: 1 INVITE$/m);
    expect(sent.find((e) => /CSeq: 1 CANCEL/.test(e.text))?.text).toMatch(/^SIP\/2.0 200 OK/);
  });

  it("uas-auth-invite: 401 challenge, valid credentials get 200", async () => {
    const result = await runPair({
      uas: "uas-auth-invite",
      uac: "uac-auth",
      uasKeys: { auth_user: "alice", auth_password: "s3cret" },
      uacArgs: ["-au", "alice", "-ap", "s3cret"],
    });
    expectBothSucceeded(result);
    const received = sippLogEntries(result.uas.messageLog).filter((e) => e.direction === "received");
    expect(received.filter((e) => e.text.startsWith("INVITE"))[1]?.text).toMatch(
      /^Authorization: Digest .*qop=auth/m,
    );
    expect(sippStartLines(result.uas.messageLog, "sent")).toEqual([
      "SIP/2.0 401 Unauthorized",
      "SIP/2.0 100 Trying",
      "SIP/2.0 200 OK",
      "SIP/2.0 200 OK",
    ]);
  });

  it("uas-auth-invite: a wrong password gets 403", async () => {
    const result = await runPair({
      uas: "uas-auth-invite",
      uac: "uac-auth",
      uasKeys: { auth_user: "alice", auth_password: "s3cret" },
      uacKeys: { expect_final: "403" },
      uacArgs: ["-au", "alice", "-ap", "wrong"],
    });
    expectBothSucceeded(result);
    expect(sippStartLines(result.uas.messageLog, "sent")).toEqual([
      "SIP/2.0 401 Unauthorized",
      "SIP/2.0 403 Forbidden",
    ]);
  });

  it("uas-auth-invite: a wrong user name gets 403 too", async () => {
    const result = await runPair({
      uas: "uas-auth-invite",
      uac: "uac-auth",
      uasKeys: { auth_user: "alice", auth_password: "s3cret" },
      uacKeys: { expect_final: "403" },
      uacArgs: ["-au", "mallory", "-ap", "s3cret"],
    });
    expectBothSucceeded(result);
  });

  const byeAuthArgs = (password: string) => (uasPort: number) => [
    "-au",
    "alice",
    "-ap",
    password,
    // SIPp's digest-uri defaults to sip:remote_ip:remote_port; a real UAC uses the Request-URI.
    "-auth_uri",
    `uas@${ip}:${uasPort};transport=udp`,
  ];

  it("uas-auth-bye: BYE challenged with 407, the right digest gets 200", async () => {
    const uasPort = await freeUdpTcpPort(ip);
    const result = await runPairOnPort(uasPort, {
      uas: "uas-auth-bye",
      uac: "uac-auth-bye",
      uasKeys: {
        auth_user: "alice",
        bye_response: expectedByeDigest({
          ip,
          port: uasPort,
          transport: "u1",
          username: "alice",
          password: "s3cret",
        }),
      },
      uacArgsFor: byeAuthArgs("s3cret"),
    });
    expectBothSucceeded(result);
    const sent = sippStartLines(result.uas.messageLog, "sent");
    expect(sent).toContain("SIP/2.0 407 Proxy Authentication Required");
    expect(sent.at(-1)).toBe("SIP/2.0 200 OK");
    const byes = sippLogEntries(result.uas.messageLog).filter((e) => e.text.startsWith("BYE"));
    expect(byes[1]?.text).toMatch(/^Proxy-Authorization: Digest /m);
  });

  it("uas-auth-bye: a wrong password gets 403", async () => {
    const uasPort = await freeUdpTcpPort(ip);
    const result = await runPairOnPort(uasPort, {
      uas: "uas-auth-bye",
      uac: "uac-auth-bye",
      uasKeys: {
        auth_user: "alice",
        bye_response: expectedByeDigest({
          ip,
          port: uasPort,
          transport: "u1",
          username: "alice",
          password: "s3cret",
        }),
      },
      uacKeys: { expect_final: "403" },
      uacArgsFor: byeAuthArgs("wrong"),
    });
    expectBothSucceeded(result);
    expect(sippStartLines(result.uas.messageLog, "sent").at(-1)).toBe("SIP/2.0 403 Forbidden");
  });

  it("uas-bye-first: the callee hangs up and the caller's 200 closes the call", async () => {
    const result = await runPair({
      uas: "uas-bye-first",
      uac: "uac-bye-first",
      uasKeys: { hangup_ms: "200" },
    });
    expectBothSucceeded(result);
    const bye = sippLogEntries(result.uas.messageLog).find(
      (e) => e.direction === "sent" && e.text.startsWith("BYE"),
    )!;
    expect(bye.text).toMatch(/^BYE sip:selftest@/);
    expect(bye.text).toMatch(/^From: <sip:service@[^>]+>;tag=\S+SIPpTag01/m);
    expect(bye.text).toMatch(/^To: "probe112 self-test" <sip:selftest@[^>]+>;tag=\S+SIPpTag00/m);
  });

  it("uas-silent: never answers the INVITE or its retransmissions", async () => {
    const result = await runPair({ uas: "uas-silent", uac: "uac-silent", uasKeys: { hold_ms: "3000" } });
    expectBothSucceeded(result);
    expect(sippStartLines(result.uas.messageLog, "sent")).toEqual([]);
    expect(sippStartLines(result.uac.messageLog, "received")).toEqual([]);
    // 0, 500, 1500 ms at least: the UAS saw the original and its retransmissions.
    expect(sippStartLines(result.uas.messageLog, "received").length).toBeGreaterThanOrEqual(3);
  });

  it("uas-two-via: the 200 carries a second Via (SIPp itself accepts it)", async () => {
    const result = await runPair({ uas: "uas-two-via", uac: "uac-basic" });
    expectBothSucceeded(result);
    const ok = sippLogEntries(result.uac.messageLog).find(
      (e) => e.direction === "received" && e.text.startsWith("SIP/2.0 200") && /CSeq: 1 INVITE/.test(e.text),
    )!;
    expect(ok.text.match(/^Via: /gm)).toHaveLength(2);
  });

  it("uas-two-via tolerates a caller that CANCELs instead of accepting the 200", async () => {
    // uac-silent fails on the unexpected 100 and SIPp's default behaviour then sends CANCEL.
    const result = await runPair({ uas: "uas-two-via", uac: "uac-silent" });
    expect(result.uas.code, result.explain()).toBe(0);
    expect(sippStartLines(result.uas.messageLog, "received").map((l) => l.split(" ")[0])).toContain("CANCEL");
    removeSippDir(result.uac);
  });

  it("uas-bad-content-length: the 200 announces more body than it carries", async () => {
    const result = await runPair({ uas: "uas-bad-content-length", uac: "uac-basic" });
    const ok = sippLogEntries(result.uas.messageLog).find(
      (e) => e.direction === "sent" && e.text.startsWith("SIP/2.0 200"),
    );
    expect(ok, result.explain()).toBeDefined();
    const declared = Number(/^Content-Length:\s*(\d+)$/m.exec(ok!.text)?.[1]);
    const body = ok!.text.split("\n\n").slice(1).join("\n\n");
    expect(declared).toBe(999);
    expect(Buffer.byteLength(body.replace(/\n/g, "\r\n"))).toBeLessThan(declared);
    // Whatever the caller does with it, the UAS scenario itself must end cleanly.
    expect(result.uas.code, result.explain()).toBe(0);
  });

  it("uas-options: OPTIONS gets 200", async () => {
    const result = await runPair({ uas: "uas-options", uac: "uac-options" });
    expectBothSucceeded(result);
  });

  async function runPairOnPort(uasPort: number, options: PairOptions): Promise<PairResult> {
    const uacPort = await freeUdpTcpPort(ip);
    const uas = startSipp({
      scenario: options.uas,
      role: "uas",
      transport: "u1",
      ip,
      port: uasPort,
      keys: options.uasKeys,
      timeoutS: 20,
    });
    await uas.ready;
    const uac = startSipp({
      scenario: options.uac,
      role: "uac",
      transport: "u1",
      ip,
      port: uacPort,
      remote: `${ip}:${uasPort}`,
      keys: options.uacKeys,
      extraArgs: options.uacArgsFor?.(uasPort),
      timeoutS: 20,
    });
    const [uasResult, uacResult] = await Promise.all([uas.exit, uac.exit]);
    return {
      uas: uasResult,
      uac: uacResult,
      uasPort,
      explain: () => `${describeSippResult(uas, uasResult)}\n\n${describeSippResult(uac, uacResult)}`,
    };
  }
});

describe("startSipp error reporting", () => {
  it("rejects `ready` with SIPp's own error when the scenario is broken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p112-broken-"));
    const scenario = join(dir, "uas-broken.xml");
    // No keys: comment, so SIPp meets an undeclared [keyword] while loading and gives up.
    writeFileSync(
      scenario,
      readFileSync(fixturePath("uas-answer"), "utf8")
        .replace(/^\s*keys:.*$/m, "")
        .replace("[ring_ms]", "[no_such_key]"),
    );
    const run = startSipp({ scenario, role: "uas", transport: "u1", ip, port: await freeUdpTcpPort(ip) });
    await expect(run.ready).rejects.toThrow(
      /exited with code \d+[\s\S]*error log[\s\S]*Unsupported keyword 'no_such_key'/,
    );
    const result = await run.exit;
    expect(result.code).not.toBe(0);
    removeSippDir(result);
    rmSync(dir, { recursive: true, force: true });
  });

  it("expectSuccess() explains a failed call with the SIPp logs", async () => {
    const port = await freeUdpTcpPort(ip);
    // Nobody listens on the remote port, so the INVITE is retransmitted until the timeout.
    const uac = startSipp({
      scenario: "uac-basic",
      role: "uac",
      transport: "u1",
      ip,
      port,
      remote: `${ip}:${await freeUdpTcpPort(ip)}`,
      timeoutS: 2,
    });
    await expect(uac.expectSuccess()).rejects.toThrow(
      /uac-basic\.xml exited with code [1-9][\s\S]*message log/,
    );
    removeSippDir(await uac.exit);
  });
});
