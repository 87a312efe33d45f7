/** Audio codecs a probe call offers, in preference order: G.711 A-law first (an EU emergency MUST). */
export const OFFERED_AUDIO = [
  { pt: 8, encoding: "PCMA", rate: 8000 },
  { pt: 0, encoding: "PCMU", rate: 8000 },
] as const;

/** Dynamic payload type we offer for RFC 4733 telephone-event. */
export const TELEPHONE_EVENT_PT = 101;

export type MediaDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

export interface SdpMedia {
  readonly type: string;
  readonly port: number;
  readonly proto: string;
  readonly formats: readonly number[];
  readonly connection: string | undefined;
  readonly rtpmap: ReadonlyMap<number, { encoding: string; rate: number; channels?: number }>;
  readonly fmtp: ReadonlyMap<number, string>;
  readonly direction: MediaDirection;
  readonly ptime: number | undefined;
  readonly rtcpPort: number | undefined;
  /** Every a= line of the section, for extensions (loopback, crypto, ...). */
  readonly attributes: readonly string[];
}

export interface SdpSession {
  readonly origin: string | undefined;
  readonly connection: string | undefined;
  readonly media: readonly SdpMedia[];
}

export interface AudioOfferSpec {
  readonly address: string;
  readonly port: number;
  readonly sessionId: number;
  readonly sessionVersion: number;
  readonly ptime?: number;
  readonly direction?: MediaDirection;
  /** Extra a= lines for the audio section (without "a="). */
  readonly extraAttributes?: readonly string[];
  /** Restrict the codecs offered (PTs from OFFERED_AUDIO); all when absent. */
  readonly payloadTypes?: readonly number[];
  readonly telephoneEvent?: boolean;
}

/** Builds an RTP/AVP audio SDP (RFC 4566, RFC 3264) for an offer or an answer. */
export function buildAudioSdp(spec: AudioOfferSpec): string {
  const ipVer = spec.address.includes(":") ? "IP6" : "IP4";
  const codecs = OFFERED_AUDIO.filter((c) => !spec.payloadTypes || spec.payloadTypes.includes(c.pt));
  const pts: number[] = codecs.map((c) => c.pt);
  if (spec.telephoneEvent !== false) pts.push(TELEPHONE_EVENT_PT);
  const lines = [
    "v=0",
    `o=probe112 ${spec.sessionId} ${spec.sessionVersion} IN ${ipVer} ${spec.address}`,
    "s=probe112 test call",
    `c=IN ${ipVer} ${spec.address}`,
    "t=0 0",
    `m=audio ${spec.port} RTP/AVP ${pts.join(" ")}`,
    ...codecs.map((c) => `a=rtpmap:${c.pt} ${c.encoding}/${c.rate}`),
    ...(spec.telephoneEvent !== false
      ? [`a=rtpmap:${TELEPHONE_EVENT_PT} telephone-event/8000`, `a=fmtp:${TELEPHONE_EVENT_PT} 0-16`]
      : []),
    `a=ptime:${spec.ptime ?? 20}`,
    ...(spec.extraAttributes ?? []).map((a) => `a=${a}`),
    `a=${spec.direction ?? "sendrecv"}`,
  ];
  return `${lines.join("\r\n")}\r\n`;
}

/** Parses SDP leniently; throws an Error naming the first line it cannot use. */
export function parseSdp(text: string): SdpSession {
  let origin: string | undefined;
  let sessionConnection: string | undefined;
  let sessionDirection: MediaDirection = "sendrecv";
  const media: SdpMedia[] = [];
  let cur: {
    type: string;
    port: number;
    proto: string;
    formats: number[];
    connection: string | undefined;
    rtpmap: Map<number, { encoding: string; rate: number; channels?: number }>;
    fmtp: Map<number, string>;
    direction: MediaDirection | undefined;
    ptime: number | undefined;
    rtcpPort: number | undefined;
    attributes: string[];
  } | null = null;
  const finish = () => {
    if (cur) media.push({ ...cur, direction: cur.direction ?? sessionDirection });
  };
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (!lines[0]?.startsWith("v=0")) throw new Error("SDP does not start with v=0");
  for (const line of lines) {
    const type = line[0];
    const value = line.slice(2);
    if (line[1] !== "=") throw new Error(`bad SDP line: ${line.slice(0, 40)}`);
    if (type === "o") origin = value;
    else if (type === "c") {
      const m = /^IN IP[46] (\S+?)(?:\/\d+)*$/.exec(value);
      if (!m) throw new Error(`bad SDP connection line: c=${value.slice(0, 40)}`);
      if (cur) cur.connection = m[1];
      else sessionConnection = m[1];
    } else if (type === "m") {
      finish();
      const m = /^(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/.exec(value);
      if (!m) throw new Error(`bad SDP media line: m=${value.slice(0, 40)}`);
      cur = {
        type: m[1]!,
        port: Number(m[2]),
        proto: m[3]!,
        formats: (m[4] ?? "").trim().split(" ").filter(Boolean).map(Number).filter(Number.isInteger),
        connection: undefined,
        rtpmap: new Map(),
        fmtp: new Map(),
        direction: undefined,
        ptime: undefined,
        rtcpPort: undefined,
        attributes: [],
      };
    } else if (type === "a") {
      const dir = /^(sendrecv|sendonly|recvonly|inactive)$/.exec(value)?.[1] as MediaDirection | undefined;
      if (!cur) {
        if (dir) sessionDirection = dir;
        continue;
      }
      cur.attributes.push(value);
      if (dir) cur.direction = dir;
      const rtpmap = /^rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(value);
      if (rtpmap) {
        const channels = rtpmap[4] ? { channels: Number(rtpmap[4]) } : {};
        cur.rtpmap.set(Number(rtpmap[1]), { encoding: rtpmap[2]!, rate: Number(rtpmap[3]), ...channels });
      }
      const fmtp = /^fmtp:(\d+) (.*)$/.exec(value);
      if (fmtp) cur.fmtp.set(Number(fmtp[1]), fmtp[2]!);
      const ptime = /^ptime:(\d+)/.exec(value);
      if (ptime) cur.ptime = Number(ptime[1]);
      const rtcp = /^rtcp:(\d+)/.exec(value);
      if (rtcp) cur.rtcpPort = Number(rtcp[1]);
    }
  }
  finish();
  return {
    origin,
    connection: sessionConnection,
    media: media.map((m) => ({ ...m, connection: m.connection ?? sessionConnection })),
  };
}

/** What the far end accepted for audio. */
export interface NegotiatedAudio {
  readonly codec: "PCMA" | "PCMU";
  readonly payloadType: number;
  readonly telephoneEventPayloadType: number | undefined;
  readonly address: string;
  readonly port: number;
  readonly direction: MediaDirection;
  readonly ptime: number | undefined;
  /** a=rtcp port (RFC 3605), when the far end moved RTCP off port + 1. */
  readonly rtcpPort: number | undefined;
  /** RFC 6849 loopback as the far end declared it. */
  readonly loopback: LoopbackAttributes;
}

/**
 * Picks the audio stream and G.711 codec from an SDP; throws when none fits. For an answer leave
 * `preference` out: the answerer's order decides (RFC 3264 §6.1). For an offer pass ours.
 */
export function negotiateAudio(session: SdpSession, preference?: readonly number[]): NegotiatedAudio {
  const audio = session.media.find((m) => m.type === "audio" && m.port !== 0 && /^RTP\/AVP/.test(m.proto));
  if (!audio) throw new Error("no active RTP/AVP audio stream in the SDP");
  if (!audio.connection) throw new Error("no connection address for the audio stream");
  const nameOf = (pt: number) =>
    audio.rtpmap.get(pt)?.encoding.toUpperCase() ?? (pt === 8 ? "PCMA" : pt === 0 ? "PCMU" : undefined);
  const g711 = audio.formats.filter((pt) => nameOf(pt) === "PCMA" || nameOf(pt) === "PCMU");
  const codecPt = preference
    ? [...g711].sort((a, b) => rank(preference, a) - rank(preference, b))[0]
    : g711[0];
  if (codecPt === undefined) throw new Error(`no G.711 codec among payload types ${audio.formats.join(" ")}`);
  const te = audio.formats.find((pt) => audio.rtpmap.get(pt)?.encoding.toLowerCase() === "telephone-event");
  return {
    codec: nameOf(codecPt) as "PCMA" | "PCMU",
    payloadType: codecPt,
    telephoneEventPayloadType: te,
    address: audio.connection,
    port: audio.port,
    direction: audio.direction,
    ptime: audio.ptime,
    rtcpPort: audio.rtcpPort,
    loopback: loopbackOf(audio),
  };
}

function rank(preference: readonly number[], pt: number): number {
  const i = preference.indexOf(pt);
  return i < 0 ? preference.length : i;
}

/** RFC 6849 media loopback as an SDP offer or answer states it. */
export interface LoopbackAttributes {
  /** "rtp-media-loopback" or "rtp-pkt-loopback", when offered. */
  readonly type: string | undefined;
  readonly role: "source" | "mirror" | undefined;
}

/** The a=loopback:… type and a=loopback-source / a=loopback-mirror role of a media section. */
export function loopbackOf(media: Pick<SdpMedia, "attributes">): LoopbackAttributes {
  const type = media.attributes
    .find((a) => a.startsWith("loopback:"))
    ?.slice("loopback:".length)
    .trim()
    .split(/\s+/)[0];
  const role = media.attributes.includes("loopback-mirror")
    ? "mirror"
    : media.attributes.includes("loopback-source")
      ? "source"
      : undefined;
  return { type, role };
}

/** The a= lines (without "a=") a probe adds to offer RFC 6849 media loopback as the source. */
export const LOOPBACK_SOURCE_ATTRIBUTES = ["loopback:rtp-media-loopback", "loopback-source"] as const;
