import { describe, expect, it } from "vitest";
import { checkCallerId } from "../../src/responder/caller-id.js";
import { addressOf, matchDestination } from "../../src/responder/destinations.js";
import { identityBody, locationSummary, pidfSummary } from "../../src/responder/identity-body.js";
import { buildMultipart } from "../../src/sip/multipart.js";
import { parseSipMessage, type SipRequestView } from "../../src/sip/sip-message.js";

function req(ruri: string, headers: string[], body = ""): SipRequestView {
  const m = parseSipMessage(
    [
      `INVITE ${ruri} SIP/2.0`,
      "Via: SIP/2.0/UDP a;branch=z9hG4bK1",
      "Call-ID: c",
      "CSeq: 1 INVITE",
      ...headers,
      `Content-Length: ${Buffer.byteLength(body)}`,
      "",
      body,
    ].join("\r\n"),
  );
  if (m.kind !== "request") throw new Error(m.kind === "error" ? m.reason : "fixture");
  return m;
}
const std = ["From: <sip:+31201234567@carrier.example;user=phone>;tag=a", "To: <sip:112@psap.example>"];

describe("test destinations (RFC 6881 ED-77)", () => {
  const served = ["112", "+31 88 123 4567", "urn:service:test.sos"];

  it("serves configured numbers in sip: and tel: form, visual separators ignored", () => {
    expect(matchDestination(req("sip:112@192.0.2.1;user=phone", std), served).served).toBe("112");
    expect(
      matchDestination(
        req("tel:+31-88-123-4567", ["From: <tel:+31201234567>;tag=a", "To: <tel:+31881234567>"]),
        served,
      ).served,
    ).toBe("+31 88 123 4567");
  });

  it("serves the test URN and its sub-services, in the Request-URI or kept in To by a proxy", () => {
    expect(
      matchDestination(
        req("urn:service:test.sos.fire", ["From: <sip:a@b>;tag=1", "To: <urn:service:test.sos.fire>"]),
        served,
      ),
    ).toEqual({
      requested: "urn:service:test.sos.fire",
      served: "urn:service:test.sos",
    });
    expect(
      matchDestination(
        req("sip:psap@192.0.2.1", ["From: <sip:a@b>;tag=1", "To: <urn:service:test.sos>"]),
        served,
      ).served,
    ).toBe("urn:service:test.sos");
  });

  it("never serves a real emergency URN or an unknown number", () => {
    expect(
      matchDestination(req("urn:service:sos", ["From: <sip:a@b>;tag=1", "To: <urn:service:sos>"]), served),
    ).toEqual({ requested: "urn:service:sos", served: undefined });
    expect(
      matchDestination(
        req("urn:service:test.sosx", ["From: <sip:a@b>;tag=1", "To: <urn:service:test.sosx>"]),
        served,
      ).served,
    ).toBeUndefined();
    expect(
      matchDestination(req("sip:113@192.0.2.1", ["From: <sip:a@b>;tag=1", "To: <sip:113@x>"]), served).served,
    ).toBeUndefined();
  });

  it("reads the address of every URI scheme a caller may use", () => {
    expect(addressOf("sip:%2B3120@x")).toBe("+3120");
    expect(addressOf("tel:+31 (20) 123;phone-context=x")).toBe("+3120123");
    expect(addressOf("sips:anonymous@anonymous.invalid")).toBe("anonymous");
    expect(addressOf("http://x")).toBeUndefined();
  });
});

describe("caller ID check", () => {
  it("prefers P-Asserted-Identity, compares numbers with or without +", () => {
    const r = req("sip:112@x", [...std, "P-Asserted-Identity: <tel:31201234567>"]);
    expect(checkCallerId(r, "+31201234567")).toEqual({
      check: "match",
      received: "31201234567",
      source: "p-asserted-identity",
      declared: "+31201234567",
    });
    expect(checkCallerId(r, "+31209999999").check).toBe("mismatch");
    expect(checkCallerId(req("sip:112@x", std), undefined)).toMatchObject({
      check: "undeclared",
      source: "from",
    });
    expect(
      checkCallerId(
        req("sip:112@x", ['From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', "To: <sip:112@x>"]),
        "+31",
      ).check,
    ).toBe("absent");
  });
});

describe("identity body and location (RFC 6881 ED-78)", () => {
  it("starts with name, service and location, one per line", () => {
    const text = identityBody({
      name: "Test PSAP",
      service: "urn:service:test.sos",
      location: "none received",
      callId: "c",
      receivedAt: "t",
      source: "1.2.3.4:5 over UDP",
      agent: undefined,
      path: undefined,
    });
    expect(text.split("\r\n").slice(0, 3)).toEqual([
      "Test PSAP",
      "urn:service:test.sos",
      "location: none received",
    ]);
  });

  it("summarises PIDF-LO by value (geodetic or civic) and a Geolocation reference", () => {
    const pidf = "<presence><gml:Point><gml:pos>52.3731 4.8922</gml:pos></gml:Point></presence>";
    const body = buildMultipart([
      { contentType: "application/sdp", body: "v=0" },
      { contentType: "application/pidf+xml", body: pidf },
    ]);
    const withLocation = req(
      "sip:112@x",
      [...std, `Content-Type: ${body.contentType}`, "Geolocation: <cid:loc@x>"],
      body.content,
    );
    expect(locationSummary(withLocation)).toBe("52.3731 4.8922");
    expect(
      pidfSummary("<ca:country>NL</ca:country><ca:A3>Amsterdam</ca:A3><ca:RD>Dam</ca:RD><ca:HNO>1</ca:HNO>"),
    ).toBe("NL Amsterdam Dam 1");
    expect(locationSummary(req("sip:112@x", [...std, "Geolocation: <https://lis.example/loc/1>"]))).toBe(
      "by reference only: https://lis.example/loc/1",
    );
    expect(locationSummary(req("sip:112@x", std))).toBe("none received");
  });
});
