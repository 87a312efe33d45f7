import { describe, expect, it } from "vitest";
import { parseMultipart, sdpOfBody } from "../../src/sip/multipart.js";
import {
  buildAudioSdp,
  LOOPBACK_SOURCE_ATTRIBUTES,
  loopbackOf,
  negotiateAudio,
  parseSdp,
} from "../../src/sip/sdp.js";

describe("SDP offer", () => {
  it("offers PCMA first, then PCMU and telephone-event, with ptime 20", () => {
    const sdp = buildAudioSdp({ address: "198.51.100.7", port: 40000, sessionId: 1, sessionVersion: 0 });
    expect(sdp).toContain("c=IN IP4 198.51.100.7\r\n");
    expect(sdp).toContain("m=audio 40000 RTP/AVP 8 0 101\r\n");
    expect(sdp).toContain(
      "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
    );
    expect(sdp).toContain("a=ptime:20\r\n");
    const again = parseSdp(sdp);
    expect(again.media[0]).toMatchObject({
      port: 40000,
      formats: [8, 0, 101],
      direction: "sendrecv",
      ptime: 20,
    });
  });

  it("writes IP6 for an IPv6 address", () => {
    expect(buildAudioSdp({ address: "2001:db8::7", port: 4000, sessionId: 1, sessionVersion: 0 })).toContain(
      "c=IN IP6 2001:db8::7",
    );
  });
});

describe("negotiateAudio", () => {
  const answer =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

  it("takes the answerer's codec and remote address", () => {
    expect(negotiateAudio(parseSdp(answer))).toEqual({
      codec: "PCMU",
      payloadType: 0,
      telephoneEventPayloadType: 101,
      address: "192.0.2.9",
      port: 7078,
      direction: "sendrecv",
      ptime: undefined,
      rtcpPort: undefined,
      loopback: { type: undefined, role: undefined },
    });
  });

  it("reads RFC 6849 loopback attributes and an RFC 3605 RTCP port", () => {
    const mirror = `${answer}a=loopback:rtp-media-loopback\r\na=loopback-mirror\r\na=rtcp:7090\r\n`;
    expect(negotiateAudio(parseSdp(mirror))).toMatchObject({
      rtcpPort: 7090,
      loopback: { type: "rtp-media-loopback", role: "mirror" },
    });
    const offer = buildAudioSdp({
      address: "198.51.100.7",
      port: 4000,
      sessionId: 1,
      sessionVersion: 0,
      extraAttributes: [...LOOPBACK_SOURCE_ATTRIBUTES],
    });
    expect(offer).toContain("a=loopback:rtp-media-loopback\r\na=loopback-source\r\na=sendrecv\r\n");
    expect(loopbackOf(parseSdp(offer).media[0]!)).toEqual({ type: "rtp-media-loopback", role: "source" });
  });

  it("applies our preference to an offer and accepts static PTs without rtpmap", () => {
    const offer = answer.replace("RTP/AVP 0 101", "RTP/AVP 0 8 101");
    expect(negotiateAudio(parseSdp(offer), [8, 0]).codec).toBe("PCMA");
  });

  it.each([
    ["no audio", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 1 RTP/AVP 96\r\n", /no active RTP\/AVP audio/],
    ["a rejected stream", answer.replace("m=audio 7078", "m=audio 0"), /no active/],
    ["no G.711", answer.replace("RTP/AVP 0 101", "RTP/AVP 18 101"), /no G\.711/],
    ["no connection", answer.replace("c=IN IP4 192.0.2.9\r\n", ""), /no connection address/],
  ])("refuses %s", (_n, sdp, err) => {
    expect(() => negotiateAudio(parseSdp(sdp))).toThrow(err);
  });

  it("rejects text that is not SDP", () => {
    expect(() => parseSdp("hello")).toThrow(/v=0/);
    expect(() => parseSdp("v=0\r\nc=garbage\r\n")).toThrow(/connection/);
  });
});

describe("multipart bodies", () => {
  const body = [
    "--b1",
    "Content-Type: application/sdp",
    "",
    "v=0",
    "c=IN IP4 192.0.2.9",
    "--b1",
    "Content-Type: text/plain",
    "",
    "answered by test PSAP",
    "--b1--",
    "",
  ].join("\r\n");

  it("finds the SDP with or without the declared boundary", () => {
    expect(parseMultipart(body, "multipart/mixed;boundary=b1")?.map((p) => p.contentType)).toEqual([
      "application/sdp",
      "text/plain",
    ]);
    expect(sdpOfBody(body)).toBe("v=0\r\nc=IN IP4 192.0.2.9");
    expect(parseMultipart(body)?.[1]?.body).toBe("answered by test PSAP");
  });

  it("returns undefined for bodies that are neither", () => {
    expect(sdpOfBody("hello")).toBeUndefined();
    expect(parseMultipart("--x\r\nonly one part")).toBeUndefined();
  });
});
