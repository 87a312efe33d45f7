import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { startSipp } from "../support/sipp.js";

// The real binary against a real SIPp UAS: what an engineer sees, and the exit codes scripts rely on.

const ip = uniqueLoopback();

async function uas(scenario: string, keys: Record<string, string> = {}) {
  const port = await freePort("udp", ip);
  const sipp = startSipp({ scenario, role: "uas", transport: "u1", ip, port, keys });
  await sipp.ready;
  return { sipp, target: `sip:112@${ip}:${port}` };
}

describe("probe112 call", () => {
  it("--json prints one object with outcome, status, RFC 6076 timings and the trace; exit 0", async () => {
    const { sipp, target } = await uas("uas-answer", { ring_ms: "50", answer_ms: "100" });
    const r = await runCli(["call", target, "--hold", "0.2", "--json"]);
    await sipp.expectSuccess();
    expect(r.code).toBe(0);
    const j = r.json!;
    expect(j.outcome).toBe("answered");
    expect(j.finalStatus).toBe(200);
    for (const k of ["firstResponse", "srd", "answer", "sdd", "duration"] as const) {
      expect(typeof j.timings[k]).toBe("number");
    }
    expect(j.timings.answer!).toBeGreaterThan(j.timings.srd!);
    expect(j.trace.map((e) => e.summary.split(" ")[0])).toEqual([
      "INVITE",
      "100",
      "180",
      "200",
      "ACK",
      "BYE",
      "200",
    ]);
    expect(j.trace[0]).toMatchObject({ t: 0, direction: "sent", method: "INVITE" });
    expect(j.trace[0]!.message).toMatch(/^INVITE sip:112@/);
    expect(r.stderr).toBe("");
  });

  it("prints a readable verdict, the timings and a ladder diagram", async () => {
    const { sipp, target } = await uas("uas-answer", { ring_ms: "0", answer_ms: "0" });
    const r = await runCli(["call", target, "--hold", "0.1"]);
    await sipp.expectSuccess();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}answered: 200 OK\n/);
    expect(r.stdout).toMatch(/timings {5}first response [\d.]+ ms · SRD [\d.]+ ms · answer [\d.]+ ms · SDD/);
    expect(r.stdout).toMatch(/\|-+ INVITE -+>\|/);
    expect(r.stdout).toMatch(/\|<-+ 180 Ringing -+\|/);
    expect(r.stdout).toMatch(/\|<-+ 200 OK \(BYE\) -+\|/);
  });

  it("a busy far end exits 1 with the reason", async () => {
    const { sipp, target } = await uas("uas-reject", { reject_code: "486", reject_reason: "Busy Here" });
    const r = await runCli(["call", target]);
    await sipp.expectSuccess();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}busy: 486 Busy Here/);
  });

  it("digest credentials from a file: answered, and the password appears nowhere in the output", async () => {
    const { sipp, target } = await uas("uas-auth-invite", { auth_user: "probe", auth_password: "pa55-word" });
    const f = join(mkdtempSync(join(tmpdir(), "p112-pw-")), "pw");
    writeFileSync(f, "pa55-word\n", { mode: 0o600 });
    const r = await runCli([
      "call",
      target,
      "--user",
      "probe",
      "--password-file",
      f,
      "--json",
      "--log-level",
      "trace",
    ]);
    await sipp.expectSuccess();
    expect(r.code).toBe(0);
    expect(r.json?.authChallenges).toBe(1);
    expect(r.stdout + r.stderr).not.toContain("pa55-word");
  });

  it("a local address we do not own is our own fault (probe_error), not the provider's", async () => {
    const r = await runCli(["call", `sip:112@${ip}:5060`, "--local-address", "192.0.2.77", "--json"]);
    expect(r.code).toBe(1);
    expect(r.json?.outcome).toBe("probe_error");
    expect(r.json?.reason).toMatch(/EADDRNOTAVAIL/);
  });

  it.each([
    [["call", "not-a-uri"], /<target>: not a sip: or sips: URI/],
    [["call", "sip:112@192.0.2.1", "--timeout", "abc"], /--timeout: must be a number of seconds/],
    [["call", "sip:112@192.0.2.1", "--transport", "sctp"], /Invalid values:[\s\S]*transport/],
    [["call", "sip:112@192.0.2.1", "--bogus-flag"], /Unknown arguments?: bogus-flag/],
    [["call"], /Not enough non-option arguments/],
    [[], /Name a command/],
  ])("usage error %j exits 2 naming the problem", async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("--help explains every option and the exit codes", async () => {
    const r = await runCli(["call", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--transport",
      "--proxy",
      "--from",
      "--user",
      "--password-file",
      "--header",
      "--hold",
      "--ring-timeout",
      "--timeout",
      "--local-address",
      "--tls-ca",
      "--tls-no-verify",
      "--json",
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect((await runCli(["--help"])).stdout).toMatch(/Exit codes: 0 success, 1 the probe failed/);
  });
});
