import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AccessPolicy } from "../../src/responder/access-policy.js";
import { CidrSet } from "../../src/responder/cidr-set.js";
import { RateLimiter } from "../../src/responder/rate-limiter.js";
import { issueProbeToken, parseProbeToken, verifyProbeToken } from "../../src/results/probe-token.js";
import { DigestVerifier, parseDigestParams } from "../../src/sip/digest-server.js";
import { parseSipMessage, type SipRequestView } from "../../src/sip/sip-message.js";

function invite(extra: string[] = []): SipRequestView {
  const m = parseSipMessage(
    [
      "INVITE urn:service:test.sos SIP/2.0",
      "Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK1",
      "From: <sip:a@b>;tag=1",
      "To: <urn:service:test.sos>",
      "Call-ID: c",
      "CSeq: 1 INVITE",
      ...extra,
      "",
      "",
    ].join("\r\n"),
  );
  if (m.kind !== "request") throw new Error("fixture");
  return m;
}

describe("signed probe tokens", () => {
  it("are 18 digits that carry agent and path and verify only with the agent's secret", () => {
    const t = issueProbeToken(1001, 7, "s3cret");
    expect(t).toMatch(/^\d{18}$/);
    expect(parseProbeToken(t)).toMatchObject({ agent: 1001, path: 7 });
    expect(verifyProbeToken(t, "s3cret")).toBe(true);
    expect(verifyProbeToken(t, "other")).toBe(false);
    const tampered = `${t.slice(0, 5)}${(Number(t[5]) + 1) % 10}${t.slice(6)}`;
    expect(verifyProbeToken(tampered, "s3cret")).toBe(false);
    expect(parseProbeToken("12345")).toBeUndefined();
    expect(() => issueProbeToken(10000, 1, "x")).toThrow(/0–9999/);
  });

  it("two tokens for the same agent and path differ (a fresh nonce per call)", () => {
    const seen = new Set(Array.from({ length: 50 }, () => issueProbeToken(1, 1, "k")));
    expect(seen.size).toBeGreaterThan(45);
  });
});

describe("CidrSet", () => {
  it("matches IPv4 and IPv6 networks, bare hosts and IPv4-mapped addresses", () => {
    const s = new CidrSet(["10.0.0.0/8", "192.0.2.7", "2001:db8:a::/48", "::1"]);
    expect(s.has("10.255.1.2")).toBe(true);
    expect(s.has("11.0.0.1")).toBe(false);
    expect(s.has("192.0.2.7")).toBe(true);
    expect(s.has("192.0.2.8")).toBe(false);
    expect(s.has("2001:db8:a:ffff::1")).toBe(true);
    expect(s.has("2001:db8:b::1")).toBe(false);
    expect(s.has("::1")).toBe(true);
    expect(s.has("::ffff:10.1.2.3")).toBe(true);
    expect(s.has("not-an-ip")).toBe(false);
    expect(new CidrSet(["0.0.0.0/0"]).has("203.0.113.9")).toBe(true);
    expect(() => new CidrSet(["10.0.0.0/33"])).toThrow(/CIDR/);
  });
});

describe("RateLimiter", () => {
  it("allows N per sliding minute per key", () => {
    const r = new RateLimiter(2);
    expect([r.allow("a", 0), r.allow("a", 1000), r.allow("a", 2000), r.allow("b", 2000)]).toEqual([
      true,
      true,
      false,
      true,
    ]);
    expect(r.allow("a", 60_001)).toBe(true);
  });

  it("keeps memory bounded under a flood of distinct keys", () => {
    const r = new RateLimiter(1, 100);
    for (let i = 0; i < 5000; i++) r.allow(`k${i}`, i);
    expect((r as unknown as { events: Map<string, number[]> }).events.size).toBeLessThanOrEqual(100);
  });
});

describe("DigestVerifier (RFC 3261 §22.4)", () => {
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const v = new DigestVerifier("probe112.test", new Map([["agent", "pw"]]));

  function answer(challenge: string, password: string, qop = true): string {
    const p = parseDigestParams(challenge)!;
    const nonce = p.get("nonce")!;
    const ha1 = md5(`agent:probe112.test:${password}`);
    const ha2 = md5("INVITE:sip:112@x");
    const response = qop ? md5(`${ha1}:${nonce}:00000001:abc:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    return `Digest username="agent", realm="probe112.test", nonce="${nonce}", uri="sip:112@x", response="${response}"${qop ? ', qop=auth, nc=00000001, cnonce="abc"' : ""}, algorithm=MD5`;
  }

  it("accepts the right password with and without qop", () => {
    expect(v.verify(answer(v.challenge(), "pw"), "INVITE")).toEqual({ ok: true, username: "agent" });
    expect(v.verify(answer(v.challenge(), "pw", false), "INVITE")).toEqual({ ok: true, username: "agent" });
  });

  it("refuses a wrong password, a forged nonce, an unknown user and an old nonce", () => {
    expect(v.verify(answer(v.challenge(), "nope"), "INVITE")).toEqual({
      ok: false,
      reason: "wrong_response",
    });
    const forged = answer(v.challenge(), "pw").replace(
      /nonce="[^"]+"/,
      'nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"',
    );
    expect(v.verify(forged, "INVITE").ok).toBe(false);
    const stranger = answer(v.challenge(), "pw").replace('username="agent"', 'username="eve"');
    expect(v.verify(stranger, "INVITE")).toEqual({ ok: false, reason: "unknown_user" });
    expect(v.verify(answer(v.challenge(), "pw"), "INVITE", Date.now() + 10 * 60_000)).toEqual({
      ok: false,
      reason: "stale",
    });
    expect(v.verify("Basic Zm9vOmJhcg==", "INVITE")).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("AccessPolicy", () => {
  const agent = {
    id: "kpn-ams-1",
    number: 1001,
    secret: { file: "/x" },
    paths: { "01": { name: "voip", callerId: "+31201234567" } },
  };
  const policy = () => new AccessPolicy([{ agent, secret: "k" }], new CidrSet(["10.0.0.0/8"]), undefined);
  const udp = { transport: "UDP" as const, remote: "x" };

  it("a valid token from anywhere gets a test and names agent and path; its replay is refused", () => {
    const p = policy();
    const t = issueProbeToken(1001, 1, "k");
    const first = p.decide(invite([`X-Probe112-Token: ${t}`]), "203.0.113.5", udp);
    expect(first).toMatchObject({ granted: true, by: "token", identity: { state: "valid", path: "01" } });
    const again = p.decide(invite([`X-Probe112-Token: ${t}`]), "203.0.113.5", udp);
    expect(again).toMatchObject({ granted: false, reason: "bad_token", identity: { state: "replayed" } });
  });

  it("an allowed network gets a test without a token; elsewhere 403", () => {
    expect(policy().decide(invite(), "10.9.9.9", udp)).toMatchObject({ granted: true, by: "network" });
    expect(policy().decide(invite(), "203.0.113.5", udp)).toMatchObject({
      granted: false,
      reason: "forbidden_network",
    });
  });

  it("a badly signed or unknown-agent token is refused outside the allowlist and flagged inside it", () => {
    const t = issueProbeToken(1001, 1, "k");
    const forged = `${t.slice(0, 17)}${(Number(t[17]) + 1) % 10}`;
    expect(policy().decide(invite([`X-Probe112-Token: ${forged}`]), "203.0.113.5", udp)).toMatchObject({
      granted: false,
      reason: "bad_token",
    });
    expect(
      policy().decide(invite([`X-Probe112-Token: ${issueProbeToken(42, 1, "k")}`]), "10.1.1.1", udp),
    ).toMatchObject({
      granted: true,
      by: "network",
      identity: { state: "unknown_agent" },
    });
  });

  it("a verified TLS client certificate is a way in", () => {
    const tlsOk = {
      transport: "TLS" as const,
      remote: "x",
      tlsClient: { authorized: true, subject: "agent" },
    };
    expect(policy().decide(invite(), "203.0.113.5", tlsOk)).toMatchObject({ granted: true, by: "mtls" });
  });

  it("with digest configured, a stranger is challenged first", () => {
    const p = new AccessPolicy([], new CidrSet([]), new DigestVerifier("r", new Map([["u", "p"]])));
    const d = p.decide(invite(), "203.0.113.5", udp);
    expect(d.granted).toBe(false);
    expect("challenge" in d && d.challenge).toMatch(/^Digest realm="r", nonce="/);
  });
});
