import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../support/call.js";
import { startMediaUas } from "../support/media.js";
import { createNetns, dropRandomCounted, type Netns } from "../support/netns.js";

// Media loss measured against loss that really happened: iptables drops packets at random inside
// a network namespace, and its counters say how many. SIPp and the probe112 CLI both run in the
// namespace (in-process code cannot enter it), which has a loopback of its own, so fixed
// addresses and ports cannot collide with parallel test files.

const IP = "127.0.0.1";
const SIPP_PORT = 5060;
const SIPP_MEDIA_PORT = 6000;
const LOSS = 0.1;

let ns: Netns | undefined;

afterEach(async () => {
  await ns?.destroy();
  ns = undefined;
});

describe("media loss under real random packet loss (iptables in a network namespace)", () => {
  it("10% random loss towards the echo: measured loss equals the rate iptables realised, and the returned share is its complement", async () => {
    ns = await createNetns();
    // Only packets *to* SIPp's media port are dropped: our RTP on its way to the echo. SIPp's
    // -rtp_echo returns every survivor byte for byte (our SSRC, our sequence numbers) and
    // nothing is dropped on the way back, so:
    //  - the jump rule counts every RTP packet we sent (RTCP goes to port + 1 and is not
    //    matched): matched = packets sent;
    //  - what comes back is exactly what got through: packets received = matched - dropped;
    //  - RFC 3550 loss on the returning stream (gaps in our own sequence numbers) is the forward
    //    loss, except for drops before the first or after the last packet that came back, which
    //    no receiver can see. Those are a handful at most (each end's run of drops is geometric
    //    with p = 0.1), against ~475 packets: well under the 2 points allowed;
    //  - the returned share counts our marked frames only, not the ~60 telephone-event packets
    //    of the token. Drops hit both kinds independently, so the share is 1 - (loss among
    //    frames), which differs from 1 - realised loss by (60/475)·(frame loss - event loss):
    //    standard deviation ≈ 0.13 · √(0.09/415 + 0.09/60) ≈ 0.5 points, so ±2 points is ~4σ.
    const loss = await dropRandomCounted(ns, { dport: SIPP_MEDIA_PORT, probability: LOSS });
    const uas = await startMediaUas({
      host: IP,
      port: SIPP_PORT,
      mediaPort: SIPP_MEDIA_PORT,
      echo: true,
      netns: ns.name,
      timeoutS: 60,
    });

    const run = await runCli(
      ["call", uas.target, "--json", "--media", "echo", "--hold", "10", "--local-address", IP],
      { netns: ns.name },
    );
    await uas.sipp.expectSuccess();
    const r = run.json;
    if (!r) expect.fail(`probe112 printed no JSON (exit ${run.code})\n${run.stdout}\n${run.stderr}`);
    const { matched, dropped } = await loss.read();

    expect(r.outcome, r.reason).toBe("answered");
    const m = r.media!;
    expect(matched).toBe(m.packets.sent);
    expect(m.packets.received).toBe(matched - dropped);
    const realised = dropped / matched;
    const measured = m.packets.lost / m.packets.expected;
    expect(Math.abs(measured - realised), `measured ${measured}, realised ${realised}`).toBeLessThanOrEqual(
      0.02,
    );
    expect(Math.abs(m.returned.share! - (1 - realised))).toBeLessThanOrEqual(0.02);
    // The realised rate must itself be plausible for p = 0.1, or the rule is not doing what we
    // think. Binomial(n, 0.1) with n ≈ 475 has σ ≈ 1.4 points; ±4σ around 10 % (about 4.5–15.5 %)
    // fails a correct setup with p ≈ 6e-5, where a fixed 6–14 % (±2.9σ) would fail one run in
    // ~270. It still catches a rule that drops nothing, everything, or twice the rate.
    const sigma = Math.sqrt((LOSS * (1 - LOSS)) / matched);
    expect(realised).toBeGreaterThan(LOSS - 4 * sigma);
    expect(realised).toBeLessThan(LOSS + 4 * sigma);
    expect(matched).toBeGreaterThan(400);
    // Half of the frames coming back is enough for a working loop: 10 % loss is still ok.
    expect(m.verdict).toBe("ok");
    expect(r.success).toBe(true);
    expect(run.code).toBe(0);
    expect(m.maxBurstLoss).toBeGreaterThanOrEqual(1);
  });
});
