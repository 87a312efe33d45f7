/** A seeded PRNG (mulberry32): the same seed gives the same corpus on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where the fuzzed messages claim to come from and go to. */
export interface FuzzTarget {
  /** The responder's address and port. */
  host: string;
  port: number;
  /** The sender's address (Via, Contact, SDP) and the transport written in Via. */
  from: string;
  transport: "UDP" | "TCP";
}

export interface FuzzMessage {
  /** The mutation that made it, for counting. */
  kind: string;
  bytes: Buffer;
}

class Gen {
  constructor(private readonly rnd: () => number) {}

  int(min: number, max: number): number {
    return min + Math.floor(this.rnd() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  token(n: number): string {
    const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    return Array.from({ length: n }, () => chars[this.int(0, chars.length - 1)]).join("");
  }

  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(0, 255)));
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }
}

interface Parts {
  startLine: string;
  headers: string[];
  body: string;
}

function sdp(g: Gen, t: FuzzTarget): string {
  return [
    "v=0",
    `o=fuzz ${g.int(1, 1e6)} 1 IN IP4 ${t.from}`,
    "s=-",
    `c=IN IP4 ${t.from}`,
    "t=0 0",
    `m=audio ${g.int(1024, 65000) & ~1} RTP/AVP 8 0 101`,
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=sendrecv",
    "",
  ].join("\r\n");
}

/** A valid INVITE for a served destination, with a fresh Call-ID, tag and branch. */
function invite(g: Gen, t: FuzzTarget): Parts {
  const callId = `${g.token(16)}@${t.from}`;
  const port = g.int(1024, 65000);
  const body = sdp(g, t);
  return {
    startLine: `INVITE sip:112@${t.host}:${t.port} SIP/2.0`,
    headers: [
      `Via: SIP/2.0/${t.transport} ${t.from}:${port};branch=z9hG4bK${g.token(12)};rport`,
      "Max-Forwards: 70",
      `From: "fuzz" <sip:fuzz@${t.from}>;tag=${g.token(8)}`,
      `To: <sip:112@${t.host}>`,
      `Call-ID: ${callId}`,
      "CSeq: 1 INVITE",
      `Contact: <sip:fuzz@${t.from}:${port};transport=${t.transport.toLowerCase()}>`,
      "Content-Type: application/sdp",
      `Content-Length: ${Buffer.byteLength(body)}`,
    ],
    body,
  };
}

function render(p: Parts): string {
  return `${p.startLine}\r\n${p.headers.join("\r\n")}\r\n\r\n${p.body}`;
}

function withLength(p: Parts): Parts {
  return {
    ...p,
    headers: p.headers.map((h) =>
      /^Content-Length:/i.test(h) ? `Content-Length: ${Buffer.byteLength(p.body)}` : h,
    ),
  };
}

function setHeader(p: Parts, name: string, value: string | undefined): Parts {
  const re = new RegExp(`^${name}:`, "i");
  const kept = p.headers.filter((h) => !re.test(h));
  return { ...p, headers: value === undefined ? kept : [...kept, `${name}: ${value}`] };
}

type Mutator = (g: Gen, t: FuzzTarget) => string | Buffer;

/**
 * Every host written into a message is the sender's own loopback address or unparseable, so
 * that nothing the responder answers or sends later (responses, BYEs, RTP) can leave loopback.
 * Byte-level mutations may still produce any address, which is why the fuzz test runs inside a
 * network namespace with only `lo`.
 */
const MUTATORS: ReadonlyArray<readonly [string, Mutator]> = [
  ["valid_invite_never_acked", (g, t) => render(invite(g, t))],
  [
    "truncated",
    (g, t) => {
      const s = render(invite(g, t));
      return s.slice(0, g.int(1, s.length - 1));
    },
  ],
  ["binary_garbage", (g) => g.bytes(g.int(1, 1400))],
  [
    "garbage_after_start_line",
    (g, t) => Buffer.concat([Buffer.from(`INVITE sip:112@${t.host} SIP/2.0\r\n`), g.bytes(g.int(1, 800))]),
  ],
  [
    "oversized",
    (g, t) => {
      const p = invite(g, t);
      return render({ ...p, headers: [...p.headers, `X-Pad: ${"x".repeat(g.int(33_000, 60_000))}`] });
    },
  ],
  [
    "broken_header_line",
    (g, t) => {
      const p = invite(g, t);
      const i = g.int(0, p.headers.length - 1);
      const h = p.headers[i]!;
      const broken = g.pick([
        h.replace(":", ""),
        `${h.slice(0, 3)} \u0000${h.slice(3)}`,
        ` ${h}`,
        `Bad Name: ${h}`,
        `${h}\r`,
        `:${h}`,
        h.replace(":", ":\r\n\r\n"),
      ]);
      const headers = [...p.headers];
      headers[i] = broken;
      return render({ ...p, headers });
    },
  ],
  [
    "broken_sdp",
    (g, t) => {
      const p = invite(g, t);
      const body = g.pick([
        "",
        "v=0\r\n",
        "v=1\r\nm=audio x RTP/AVP\r\n",
        `v=0\r\nc=IN IP4 not-an-address\r\nm=audio 4000 RTP/AVP 8\r\n`,
        `v=0\r\nc=IN IP4 ${t.from}\r\nm=audio 99999999 RTP/AVP 8\r\n`,
        `v=0\r\nc=IN IP4 ${t.from}\r\nm=video 4000 RTP/AVP 96\r\n`,
        `v=0\r\nc=IN IP4 ${t.from}\r\nm=audio 4000 RTP/AVP ${Array.from({ length: 500 }, (_, i) => i % 128).join(" ")}\r\n`,
        `v=0\r\nc=IN IP4 ${t.from}\r\n${"m=audio 4000 RTP/AVP 8\r\n".repeat(200)}`,
        `v=0\r\nc=IN IP4 ${t.from}\r\nm=audio 4000 RTP/AVP 8\r\na=loopback:rtp-media-loopback\r\na=loopback-source\r\na=rtpmap:8 ${"P".repeat(3000)}/8000\r\n`,
        render(invite(g, t)),
        g.bytes(g.int(1, 600)).toString("latin1"),
        `--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--\r\n`,
      ]);
      const typed = g.chance(0.3)
        ? setHeader(
            p,
            "Content-Type",
            g.pick(["multipart/mixed", "multipart/mixed;boundary=b", "text/plain", ""]),
          )
        : p;
      return render(withLength({ ...typed, body }));
    },
  ],
  [
    "wrong_content_length",
    (g, t) => {
      const p = invite(g, t);
      const len = Buffer.byteLength(p.body);
      return render(
        setHeader(
          p,
          "Content-Length",
          g.pick([
            String(len + g.int(1, 5000)),
            String(Math.max(0, len - g.int(1, len))),
            "-1",
            "abc",
            "99999999999",
            "",
          ]),
        ),
      );
    },
  ],
  [
    "missing_mandatory_header",
    (g, t) => {
      const p = invite(g, t);
      return render(
        setHeader(p, g.pick(["Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Contact"]), undefined),
      );
    },
  ],
  [
    "huge_header_count",
    (g, t) => {
      const p = invite(g, t);
      const n = g.int(200, 1500);
      return render({
        ...p,
        headers: [...p.headers, ...Array.from({ length: n }, (_, i) => `X-H${i}: ${g.token(4)}`)],
      });
    },
  ],
  [
    "many_vias",
    (g, t) => {
      const p = invite(g, t);
      const extra = Array.from(
        { length: g.int(50, 600) },
        (_, i) => `Via: SIP/2.0/UDP ${t.from}:${1024 + i};branch=z9hG4bK${g.token(8)}`,
      );
      return render({ ...p, headers: [p.headers[0]!, ...extra, ...p.headers.slice(1)] });
    },
  ],
  [
    "bad_via",
    (g, t) => {
      const p = invite(g, t);
      const via = g.pick([
        "SIP/2.0/UDP",
        "garbage",
        `SIP/2.0/UDP ${t.from}:99999;branch=z9hG4bKx`,
        `SIP/2.0/UDP ${t.from}:5060`,
        `SIP/2.0/UDP ${t.from};branch=`,
        `SIP/2.0/UDP [::1;branch=z9hG4bK${g.token(6)}`,
        `SIP/2.0/XYZ ${t.from}:5060;branch=z9hG4bK${g.token(6)};rport=abc;received=not-an-ip`,
        `SIP/3.0/UDP ${t.from}:5060;branch=z9hG4bK${g.token(6)}`,
        `SIP/2.0/UDP ${t.from}:5060;branch=z9hG4bK${g.token(6)};maddr=${t.from};ttl=300`,
        `SIP/2.0/UDP ${t.from}:5060;${"p=1;".repeat(2000)}branch=z9hG4bK${g.token(6)}`,
      ]);
      return render({ ...p, headers: [`Via: ${via}`, ...p.headers.slice(1)] });
    },
  ],
  [
    "in_dialog_for_unknown_transaction",
    (g, t) => {
      const p = invite(g, t);
      const method = g.pick(["CANCEL", "ACK", "BYE", "INFO", "UPDATE", "PRACK"]);
      const headers = p.headers
        .filter((h) => !/^Content-(Type|Length):/i.test(h))
        .map((h) => (h.startsWith("CSeq:") ? `CSeq: ${g.int(1, 100)} ${method}` : h))
        .map((h) => (h.startsWith("To:") && g.chance(0.5) ? `${h};tag=${g.token(8)}` : h));
      return render({
        startLine: `${method} sip:112@${t.host}:${t.port} SIP/2.0`,
        headers: [...headers, "Content-Length: 0"],
        body: "",
      });
    },
  ],
  [
    "re_invite_for_unknown_dialog",
    (g, t) => {
      const p = invite(g, t);
      return render({
        ...p,
        headers: p.headers.map((h) => (h.startsWith("To:") ? `${h};tag=${g.token(8)}` : h)),
      });
    },
  ],
  [
    "odd_method_or_uri",
    (g, t) => {
      const p = invite(g, t);
      const start = g.pick([
        `FOO sip:112@${t.host} SIP/2.0`,
        `INVITE  sip:112@${t.host} SIP/2.0`,
        `INVITE sip:112@${t.host} SIP/1.0`,
        "INVITE * SIP/2.0",
        `INVITE sip:${"9".repeat(5000)}@${t.host} SIP/2.0`,
        `INVITE sip:%ff%fe@${t.host} SIP/2.0`,
        "INVITE urn:service:sos SIP/2.0",
        "INVITE urn:service:test.sos.x.y.z.w SIP/2.0",
        "INVITE tel:112;phone-context=+31 SIP/2.0",
        `invite sip:112@${t.host} SIP/2.0`,
        `OPTIONS sip:${t.host} SIP/2.0`,
        `SUBSCRIBE sip:112@${t.host} SIP/2.0`,
        `REGISTER sip:${t.host} SIP/2.0`,
      ]);
      return render({ ...p, startLine: start });
    },
  ],
  [
    "unsolicited_response",
    (g, t) => {
      const p = invite(g, t);
      const status = g.pick([
        "100 Trying",
        "180 Ringing",
        "200 OK",
        "481 Call Does Not Exist",
        "999 Nope",
        "200",
      ]);
      return render({ ...p, startLine: `SIP/2.0 ${status}` });
    },
  ],
  [
    "bit_flips",
    (g, t) => {
      const b = Buffer.from(render(invite(g, t)));
      for (let i = g.int(1, 20); i > 0; i--) {
        const at = g.int(0, b.length - 1);
        b[at] = b[at]! ^ (1 << g.int(0, 7));
      }
      return b;
    },
  ],
  [
    "bad_from_to_contact",
    (g, t) => {
      const p = invite(g, t);
      const value = g.pick([
        "",
        "<",
        "<sip:>",
        '"unterminated <sip:a@b>',
        `<tel:${"1".repeat(3000)}>`,
        "<urn:service:sos>;tag=",
        `<sip:a@${t.from}>;tag=${"t".repeat(3000)}`,
        "*",
        `<sips:a@${t.from}:0>`,
        `<sip:a@[::1]:99999>`,
      ]);
      return render(
        setHeader(p, g.pick(["From", "To", "Contact", "Record-Route", "P-Asserted-Identity"]), value),
      );
    },
  ],
  [
    "bad_token_and_auth_headers",
    (g, t) => {
      const p = invite(g, t);
      return render(
        setHeader(
          setHeader(
            p,
            "X-Probe112-Token",
            g.pick(["", "1".repeat(18), "abc", "9".repeat(5000), "0000000000000000000"]),
          ),
          "Authorization",
          g.pick([
            "Digest",
            'Digest username="x", realm="y", nonce="AAAA", uri="sip:a", response="00"',
            `Digest ${"a=b, ".repeat(2000)}`,
            "Basic Zm9vOmJhcg==",
          ]),
        ),
      );
    },
  ],
  [
    "bad_multipart",
    (g, t) => {
      const p = invite(g, t);
      const b = g.token(6);
      const body = g.pick([
        `--${b}\r\nContent-Type: application/sdp\r\n\r\n${sdp(g, t)}--${b}\r\nContent-Type: application/pidf+xml\r\n\r\n<pos>${"1".repeat(4000)} 2</pos>\r\n--${b}--\r\n`,
        `--${b}\r\n\r\n\r\n--${b}--`,
        `--${b}${"\r\n--".repeat(500)}`,
        `--${b}\r\nContent-Type: application/sdp\r\n\r\n${sdp(g, t)}`,
      ]);
      return render(withLength(setHeader({ ...p, body }, "Content-Type", `multipart/mixed;boundary=${b}`)));
    },
  ],
  ["crlf_only", (g) => "\r\n".repeat(g.int(1, 50))],
  ["empty", () => Buffer.alloc(0)],
];

/** Mutation kinds, in corpus order. */
export const FUZZ_KINDS: readonly string[] = MUTATORS.map(([k]) => k);

/** `count` mutated or malformed SIP messages drawn from a valid INVITE with PRNG `seed`. */
export function fuzzCorpus(seed: number, count: number, target: FuzzTarget): FuzzMessage[] {
  const g = new Gen(seededRandom(seed));
  const out: FuzzMessage[] = [];
  for (let i = 0; i < count; i++) {
    // Round-robin first, so every kind is in even a small corpus; random afterwards.
    const [kind, mutate] = i < MUTATORS.length ? MUTATORS[i]! : g.pick(MUTATORS);
    const m = mutate(g, target);
    out.push({ kind, bytes: typeof m === "string" ? Buffer.from(m, "latin1") : m });
  }
  return out;
}

/** `count` valid INVITEs (random Call-IDs, never ACKed) and OPTIONS, as one source floods. */
export function floodCorpus(seed: number, count: number, target: FuzzTarget): FuzzMessage[] {
  const g = new Gen(seededRandom(seed));
  return Array.from({ length: count }, () => {
    if (g.chance(0.5)) return { kind: "flood_invite", bytes: Buffer.from(render(invite(g, target))) };
    const p = invite(g, target);
    const options = render({
      startLine: `OPTIONS sip:${target.host}:${target.port} SIP/2.0`,
      headers: p.headers
        .filter((h) => !/^(Content-|Contact)/i.test(h))
        .map((h) => (h.startsWith("CSeq:") ? "CSeq: 1 OPTIONS" : h))
        .concat("Content-Length: 0"),
      body: "",
    });
    return { kind: "flood_options", bytes: Buffer.from(options) };
  });
}

/** What the sender script is told to do (written as JSON to a file). */
export interface SenderPlan {
  bind: string;
  host: string;
  udpPort: number;
  tcpPort: number;
  /** Datagrams, base64. */
  udp: string[];
  /** One array of chunks (base64) per TCP connection: several messages, split writes. */
  tcp: string[][];
  /** Connections opened and left idle with half a message, until the end. */
  idleConnections: number;
  /** Pause 1 ms after this many datagrams, so the receive buffer is not simply overrun. */
  udpBurst: number;
  tcpParallel: number;
}

/** What the sender did. */
export interface SenderReport {
  udpSent: number;
  udpBytes: number;
  tcpConnections: number;
  tcpBytes: number;
  tcpErrors: number;
  idleOpened: number;
  seconds: number;
}

/**
 * A plain Node.js script (run with `node -e` inside the responder's network namespace) that sends
 * a {@link SenderPlan} and prints a {@link SenderReport} as JSON.
 */
export const SENDER_SOURCE = `
const fs = require("node:fs"), dgram = require("node:dgram"), net = require("node:net");
const plan = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const report = { udpSent: 0, udpBytes: 0, tcpConnections: 0, tcpBytes: 0, tcpErrors: 0, idleOpened: 0, seconds: 0 };
const t0 = Date.now();
async function udp() {
  const s = dgram.createSocket("udp4");
  s.on("error", () => {});
  s.on("message", () => {});
  await new Promise((r) => s.bind(0, plan.bind, r));
  for (let i = 0; i < plan.udp.length; i++) {
    const b = Buffer.from(plan.udp[i], "base64");
    await new Promise((r) => s.send(b, plan.udpPort, plan.host, () => r()));
    report.udpSent++; report.udpBytes += b.length;
    if (i % plan.udpBurst === plan.udpBurst - 1) await sleep(1);
  }
  await sleep(200);
  s.close();
}
function stream(chunks) {
  return new Promise((resolve) => {
    const c = net.connect({ host: plan.host, port: plan.tcpPort, localAddress: plan.bind });
    let done = false;
    const finish = () => { if (!done) { done = true; c.destroy(); resolve(); } };
    c.on("error", () => { report.tcpErrors++; finish(); });
    c.on("data", () => {});
    c.on("close", finish);
    c.on("connect", async () => {
      report.tcpConnections++;
      for (const ch of chunks) {
        if (c.destroyed) break;
        const b = Buffer.from(ch, "base64");
        c.write(b);
        report.tcpBytes += b.length;
        await sleep(0);
      }
      c.end();
      setTimeout(finish, 300);
    });
  });
}
async function tcp() {
  let next = 0;
  const worker = async () => { while (next < plan.tcp.length) await stream(plan.tcp[next++]); };
  await Promise.all(Array.from({ length: plan.tcpParallel }, worker));
}
async function idle() {
  const conns = [];
  for (let i = 0; i < plan.idleConnections; i++) {
    const c = net.connect({ host: plan.host, port: plan.tcpPort, localAddress: plan.bind });
    c.on("error", () => {});
    c.on("connect", () => { report.idleOpened++; c.write("INVITE sip:112@" + plan.host + " SIP/2.0\\r\\nVia: SIP/2.0/TCP "); });
    conns.push(c);
  }
  return conns;
}
(async () => {
  const conns = await idle();
  await Promise.all([udp(), tcp()]);
  report.seconds = (Date.now() - t0) / 1000;
  for (const c of conns) c.destroy();
  process.stdout.write(JSON.stringify(report));
})();
`;
