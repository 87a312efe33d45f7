import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writePcmaTone } from "../support/audio.js";
import { call, runCli } from "../support/call.js";
import { audioOf, sdpOf, startMediaUas } from "../support/media.js";
import { uniqueLoopback } from "../support/ports.js";

// The media check of a test call against real far ends: SIPp echoing RTP (-rtp_echo), SIPp
// answering without ever sending RTP, and SIPp playing audio of its own without echoing ours.
// SIPp does not implement RFC 6849, so every loopback offer here ends in the plain-echo fallback.

const ip = uniqueLoopback();
const audioDir = mkdtempSync(join(tmpdir(), "p112-media-"));

afterAll(() => rmSync(audioDir, { recursive: true, force: true }));

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("media check against SIPp", () => {
  it("SIPp -rtp_echo answers a loopback offer without a=loopback-mirror: checked as plain echo, every frame back, verdict ok", async () => {
    const uas = await startMediaUas({ host: ip, echo: true });
    const r = await call(uas.target, { media: "loopback", holdSeconds: 1 });
    await uas.sipp.expectSuccess();

    expect(r.outcome, r.reason).toBe("answered");
    expect(r.success).toBe(true);
    const offer = sdpOf(r, "offer");
    expect(offer).toMatch(/^a=loopback:rtp-media-loopback$/m);
    expect(offer).toMatch(/^a=loopback-source$/m);
    // SIPp's SDP names the port it was given with -mp, and that is where our RTP went.
    const answer = sdpOf(r, "answer");
    expect(audioOf(answer)).toEqual({ address: ip, port: uas.mediaPort });
    expect(answer).not.toMatch(/^a=loopback/m);
    const m = r.media!;
    expect(m.mode).toBe("loopback");
    expect(m.loopback).toBe(false);
    expect(m.codec).toBe("PCMA");
    expect(m.remote).toBe(`${ip}:${uas.mediaPort}`);
    expect(m.local).toBe(`${audioOf(offer).address}:${audioOf(offer).port}`);
    expect(m.verdict).toBe("ok");
    expect(m.reason).toMatch(
      /^\d+% of \d+ marked frames came back \(no RFC 6849 mirror: checked as plain echo\)$/,
    );
    // Loopback neither loses nor reorders: anything short of all frames back would be our fault.
    expect(m.returned.share).toBeGreaterThanOrEqual(0.95);
    expect(m.returned.frames).toBeGreaterThan(20);
    expect(m.packets.lost).toBe(0);
    expect(m.packets.duplicates).toBe(0);
    // SIPp echoes every packet, events included, so it all comes back.
    expect(m.packets.received).toBe(m.packets.sent);
    // The loop is loopback and a kernel-side echo: the round trip is scheduling, well under 50 ms.
    expect(m.returned.rttSeconds).toBeGreaterThan(0);
    expect(m.returned.rttSeconds).toBeLessThan(0.05);
    expect(m.rejects).toEqual({
      unexpectedSource: 0,
      unexpectedSsrc: 0,
      wrongPayloadType: 0,
      malformedRtp: 0,
      malformedRtcp: 0,
    });
    // The echoed events decode to the digits we sent: the token made the round trip in-band.
    expect(m.dtmf.sent).toBe(`*${r.token}#`);
    expect(m.dtmf.received).toBe(m.dtmf.sent);
    expect(m.quality!.mos).toBeGreaterThan(4);
  });

  it("--media echo offers plain audio (no a=loopback) and gets the same verdict", async () => {
    const uas = await startMediaUas({ host: ip, echo: true });
    const r = await call(uas.target, { media: "echo", dtmfToken: false, holdSeconds: 1 });
    await uas.sipp.expectSuccess();

    expect(sdpOf(r, "offer")).not.toMatch(/^a=loopback/m);
    expect(r.media).toMatchObject({ mode: "echo", loopback: false, verdict: "ok" });
    expect(r.media!.reason).toMatch(/^\d+% of \d+ marked frames came back$/);
    expect(r.media!.returned.share).toBeGreaterThanOrEqual(0.95);
    expect(r.media!.dtmf.sent).toBeNull();
    expect(r.holdSeconds).toBe(1);
    expect(r.success).toBe(true);
  });

  it("probe112 call against SIPp -rtp_echo prints PASS with the media lines and exits 0", async () => {
    const uas = await startMediaUas({ host: ip, echo: true });
    const run = await runCli([
      "call",
      uas.target,
      "--media",
      "loopback",
      "--hold",
      "1",
      "--token",
      "4711081500",
    ]);
    await uas.sipp.expectSuccess();

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^PASS {2}answered: 200 OK\n/);
    expect(run.stdout).toMatch(
      /^ {2}media {7}ok \(echo\): \d+% of \d+ marked frames came back \(no RFC 6849 mirror: checked as plain echo\)$/m,
    );
    expect(run.stdout).toMatch(new RegExp(`^ {14}PCMA \\S+:\\d+ <-> ${reEscape(ip)}:${uas.mediaPort}$`, "m"));
    const packets =
      / {14}packets sent (\d+) · received (\d+) · lost 0 \(0\.0 %\) · returned \d+ \(([\d.]+) %\)$/m.exec(
        run.stdout,
      );
    expect(packets, run.stdout).not.toBeNull();
    expect(Number(packets![2])).toBe(Number(packets![1]));
    expect(Number(packets![3])).toBeGreaterThanOrEqual(95);
    expect(run.stdout).toMatch(/^ {14}jitter [\d.]+ ms · media round trip [\d.]+ ms · .* MOS [\d.]+$/m);
    expect(run.stdout).toMatch(/^ {14}token sent in-band as DTMF \*4711081500#$/m);
  });

  it("SIPp answers but never sends RTP: verdict none, the call is answered and yet the probe fails", async () => {
    const uas = await startMediaUas({ host: ip, echo: false });
    const r = await call(uas.target, { media: "loopback", dtmfToken: false, holdSeconds: 1 });
    await uas.sipp.expectSuccess();

    // Signalling succeeded in full: the failure is the media's alone.
    expect(r.outcome).toBe("answered");
    expect(r.finalStatus).toBe(200);
    expect(r.byeStatus).toBe(200);
    expect(r.success).toBe(false);
    const m = r.media!;
    expect(m.verdict).toBe("none");
    expect(m.reason).toBe(
      `no RTP received from ${ip}:${uas.mediaPort} (no RFC 6849 mirror: checked as plain echo)`,
    );
    expect(m.packets.sent).toBeGreaterThan(40);
    expect(m.packets.received).toBe(0);
    expect(m.returned).toMatchObject({ frames: 0, share: 0, rttSeconds: null });
    expect(m.quality).toBeNull();
  });

  it("probe112 call against a far end that returns no media prints a FAIL line naming it and exits 1", async () => {
    const uas = await startMediaUas({ host: ip, echo: false });
    const run = await runCli(["call", uas.target, "--media", "echo", "--no-dtmf-token", "--hold", "1"]);
    await uas.sipp.expectSuccess();

    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(
        `^FAIL {2}answered: 200 OK; media none: no RTP received from ${reEscape(ip)}:${uas.mediaPort}\\n`,
      ),
    );
    expect(run.stdout).toMatch(/^ {2}media {7}none \(echo\): no RTP received from /m);
    expect(run.stdout).toMatch(
      /^ {14}packets sent \d+ · received 0 · lost 0 \(—\) · returned 0 \(0\.0 %\)$/m,
    );
  });

  it("SIPp plays audio of its own but does not echo ours: verdict one_way", async () => {
    const file = join(audioDir, "tone-425.pcma");
    writePcmaTone(file, { seconds: 1 });
    const uas = await startMediaUas({
      host: ip,
      echo: false,
      scenario: "uas-answer-play",
      keys: { audio_file: file },
    });
    const r = await call(uas.target, { media: "loopback", dtmfToken: false, holdSeconds: 1.5 });
    await uas.sipp.expectSuccess();

    expect(r.outcome).toBe("answered");
    expect(r.success).toBe(false);
    const m = r.media!;
    expect(m.verdict).toBe("one_way");
    expect(m.reason).toMatch(
      /^the far end sends media, but not ours back \((\d+) packets received\) \(no RFC 6849 mirror: checked as plain echo\)$/,
    );
    // SIPp starts on our ACK and sends every 20 ms until the BYE: roughly the hold's worth.
    expect(m.packets.received).toBeGreaterThan(40);
    expect(m.packets.lost).toBe(0);
    expect(m.returned.frames).toBe(0);
    // Its stream came from the address its SDP named, in the payload type it answered with.
    expect(m.rejects).toMatchObject({ unexpectedSource: 0, wrongPayloadType: 0, malformedRtp: 0 });
  });
});

describe("media check over IPv6", () => {
  it("SIPp -rtp_echo on ::1: both SDPs say c=IN IP6 ::1 and the echo comes back, verdict ok", async () => {
    const uas = await startMediaUas({ host: "::1", echo: true });
    const r = await call(uas.target, { media: "loopback", dtmfToken: false, holdSeconds: 1 });
    await uas.sipp.expectSuccess();

    expect(r.outcome, r.reason).toBe("answered");
    expect(sdpOf(r, "offer")).toMatch(/^c=IN IP6 ::1$/m);
    expect(sdpOf(r, "offer")).toMatch(/^o=probe112 \d+ \d+ IN IP6 ::1$/m);
    expect(audioOf(sdpOf(r, "answer"))).toEqual({ address: "::1", port: uas.mediaPort });
    expect(r.media).toMatchObject({ verdict: "ok", remote: `[::1]:${uas.mediaPort}` });
    expect(r.media!.local).toMatch(/^\[::1\]:\d+$/);
    expect(r.media!.returned.share).toBeGreaterThanOrEqual(0.95);
    expect(r.media!.packets.lost).toBe(0);
    expect(r.success).toBe(true);
  });

  it("an IPv6 far end that sends no RTP is named as [::1]:port in the reason, as everywhere else in the report", async () => {
    const uas = await startMediaUas({ host: "::1", echo: false });
    const r = await call(uas.target, { media: "echo", dtmfToken: false, holdSeconds: 0.5 });
    await uas.sipp.expectSuccess();

    expect(r.media).toMatchObject({ verdict: "none", remote: `[::1]:${uas.mediaPort}` });
    // "::1:6000" could be read as the address ::1:6000 with no port at all.
    expect(r.media!.reason).toBe(`no RTP received from [::1]:${uas.mediaPort}`);
  });

  it("an IPv6 media address the far end writes in full (0:0:0:0:0:0:0:1) is the same address: its echo counts", async () => {
    // RFC 4566 takes any textual form of an IPv6 address (RFC 4291 §2.2); RFC 5952 only
    // recommends the short one. The kernel reports the source in the short form, so the two
    // must be compared as addresses, not as strings.
    const uas = await startMediaUas({ host: "::1", echo: true, extraArgs: ["-mi", "0:0:0:0:0:0:0:1"] });
    const r = await call(uas.target, { media: "echo", dtmfToken: false, holdSeconds: 1 });
    await uas.sipp.expectSuccess();

    expect(audioOf(sdpOf(r, "answer")).address).toBe("0:0:0:0:0:0:0:1");
    expect(r.media!.rejects!.unexpectedSource).toBe(0);
    expect(r.media!.verdict, r.media!.reason).toBe("ok");
    expect(r.success).toBe(true);
  });
});
