import { describe, expect, it } from "vitest";
import { nextHopUri, responseDestination } from "../../src/sip/next-hop.js";
import { type DnsApi, pickSrv, ResolveError, resolveHop } from "../../src/sip/resolve.js";
import { parseSipMessage, type SipRequestView, type SipResponseView } from "../../src/sip/sip-message.js";
import { parseSipUri } from "../../src/sip/sip-uri.js";

function req(ruri: string, extra: string[] = []): SipRequestView {
  const m = parseSipMessage(
    [
      `BYE ${ruri} SIP/2.0`,
      "Via: SIP/2.0/UDP a;branch=z9hG4bK1",
      "From: <sip:a@a>;tag=1",
      "To: <sip:b@b>;tag=2",
      "Call-ID: c",
      "CSeq: 2 BYE",
      ...extra,
      "",
      "",
    ].join("\r\n"),
  );
  if (m.kind !== "request") throw new Error("bad fixture");
  return m;
}

function res(via: string): SipResponseView {
  const m = parseSipMessage(
    [
      `SIP/2.0 200 OK`,
      `Via: ${via}`,
      "From: <sip:a@a>;tag=1",
      "To: <sip:b@b>;tag=2",
      "Call-ID: c",
      "CSeq: 2 BYE",
      "",
      "",
    ].join("\r\n"),
  );
  if (m.kind !== "response") throw new Error("bad fixture");
  return m;
}

describe("request routing (RFC 3261 §8.1.2, §12.2.1.1)", () => {
  it("goes to the top Route when it is a loose router", () => {
    expect(
      nextHopUri(req("sip:b@198.51.100.9:5080", ["Route: <sip:10.0.0.1:5070;lr>, <sip:10.0.0.2;lr>"]))?.host,
    ).toBe("10.0.0.1");
  });
  it("goes to the Request-URI without Route or with a strict router", () => {
    expect(nextHopUri(req("sip:b@198.51.100.9:5080"))).toMatchObject({ host: "198.51.100.9", port: 5080 });
    expect(nextHopUri(req("sip:10.0.0.1", ["Route: <sip:b@198.51.100.9>"]))?.host).toBe("10.0.0.1");
  });
});

describe("response routing (RFC 3261 §18.2.2, RFC 3581)", () => {
  it.each([
    [
      "SIP/2.0/UDP 10.0.0.1:5070;branch=x;received=203.0.113.1;rport=40000",
      { host: "203.0.113.1", port: 40000 },
    ],
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=x;received=203.0.113.1", { host: "203.0.113.1", port: 5070 }],
    ["SIP/2.0/UDP 10.0.0.1;branch=x", { host: "10.0.0.1", port: 5060 }],
    ["SIP/2.0/UDP [2001:db8::1]:5070;branch=x", { host: "2001:db8::1", port: 5070 }],
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=x;maddr=239.1.1.1;rport=4", { host: "239.1.1.1", port: 5070 }],
  ])("%s", (via, dest) => {
    expect(responseDestination(res(via))).toEqual(dest);
  });
});

// The selection logic runs here against an in-memory resolver so every branch is reached;
// call-dns.int.test.ts runs the same path against a real DNS server (dnsmasq).
describe("RFC 3263 resolution for a chosen transport", () => {
  const calls: string[] = [];
  const dns: DnsApi = {
    resolveSrv: async (name) => {
      calls.push(`SRV ${name}`);
      if (name === "_sips._tcp.example.net")
        return [{ name: "sbc1.example.net", port: 5081, priority: 10, weight: 0 }];
      throw Object.assign(new Error("nx"), { code: "ENOTFOUND" });
    },
    lookup: async (host) => {
      calls.push(`A ${host}`);
      if (host === "sbc1.example.net" || host === "example.net") return { address: "192.0.2.50", family: 4 };
      throw Object.assign(new Error("nx"), { code: "ENOTFOUND" });
    },
  };

  it("uses an IP literal as is, with the transport's default port", async () => {
    expect(await resolveHop(parseSipUri("sip:[2001:db8::5]")!, "tls", { dns })).toMatchObject({
      address: "2001:db8::5",
      port: 5061,
      family: 6,
    });
  });
  it("follows SRV when the URI has no port, and verifies TLS against the SRV target", async () => {
    expect(await resolveHop(parseSipUri("sip:example.net")!, "tls", { dns })).toEqual({
      address: "192.0.2.50",
      port: 5081,
      family: 4,
      host: "sbc1.example.net",
    });
  });
  it("falls back to A on the default port without SRV, and skips SRV when a port is given", async () => {
    calls.length = 0;
    expect(await resolveHop(parseSipUri("sip:example.net")!, "udp", { dns })).toMatchObject({ port: 5060 });
    expect(await resolveHop(parseSipUri("sip:example.net:5099")!, "udp", { dns })).toMatchObject({
      port: 5099,
    });
    expect(calls).toEqual(["SRV _sip._udp.example.net", "A example.net", "A example.net"]);
  });
  it("names the host in a ResolveError", async () => {
    await expect(resolveHop(parseSipUri("sip:nowhere.invalid:5060")!, "udp", { dns })).rejects.toThrow(
      ResolveError,
    );
    await expect(resolveHop(parseSipUri("sip:nowhere.invalid:5060")!, "udp", { dns })).rejects.toThrow(
      /nowhere\.invalid/,
    );
  });
  it("picks the lowest SRV priority, weighted", () => {
    const recs = [
      { name: "b", port: 1, priority: 20, weight: 100 },
      { name: "a1", port: 1, priority: 10, weight: 1 },
      { name: "a2", port: 1, priority: 10, weight: 3 },
    ];
    expect(pickSrv(recs, () => 0)?.name).toBe("a1");
    expect(pickSrv(recs, () => 0.5)?.name).toBe("a2");
    expect(pickSrv([])).toBeUndefined();
  });
});
