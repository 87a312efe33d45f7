import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { TestCallResult } from "../../src/sip/test-call.js";
import { call, runCli, traceLines } from "../support/call.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ManagedProcess, spawnManaged, waitForPort } from "../support/process.js";
import { sippLogEntries, startSipp } from "../support/sipp.js";

// A hostile or broken far end: socat answers with bytes we choose, SIPp with stray responses.
// Whatever arrives, the call must end in the right outcome with a reason, the process must not
// crash, and nothing may outlive the configured timeout.

const ip = uniqueLoopback();
const dir = mkdtempSync(join(tmpdir(), "p112-bad-input-"));
const peers: ManagedProcess[] = [];

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop("SIGTERM", 1000)));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A UDP peer that answers every datagram with `reply`, one socat child per datagram. The bytes
 * come from a file because socat's address parser would eat the backslashes of a printf format;
 * `-b` lets a reply up to 64 KiB leave as one datagram (socat reads 8 KiB blocks by default).
 */
async function udpPeer(reply: string | Buffer): Promise<string> {
  const port = await freePort("udp", ip);
  const file = join(dir, `udp-${port}.bin`);
  writeFileSync(file, reply);
  const proc = spawnManaged(
    "socat",
    ["-b", "65536", `UDP4-RECVFROM:${port},bind=${ip},fork`, `EXEC:cat ${file}`],
    { name: `socat udp peer ${ip}:${port}` },
  );
  peers.push(proc);
  await waitForPort("udp", ip, port, 5000, { process: proc });
  return `sip:112@${ip}:${port}`;
}

/** A TCP peer that runs the POSIX shell `script` per connection, the socket as its stdin/stdout. */
async function tcpPeer(script: string): Promise<string> {
  const port = await freePort("tcp", ip);
  const file = join(dir, `tcp-${port}.sh`);
  writeFileSync(file, script);
  const proc = spawnManaged("socat", [`TCP4-LISTEN:${port},bind=${ip},reuseaddr,fork`, `EXEC:sh ${file}`], {
    name: `socat tcp peer ${ip}:${port}`,
  });
  peers.push(proc);
  // Probed with ss: a test connection would itself run the script.
  await waitForPort("tcp", ip, port, 5000, { process: proc, tcpProbe: "ss" });
  return `sip:112@${ip}:${port}`;
}

async function sippUas(scenario: string, keys: Record<string, string> = {}) {
  const port = await freePort("udp", ip);
  const sipp = startSipp({ scenario, role: "uas", transport: "u1", ip, port, keys, timeoutS: 20 });
  await sipp.ready;
  return { sipp, target: `sip:112@${ip}:${port}` };
}

const receivedEntries = (r: TestCallResult) => r.trace.filter((e) => e.direction === "received");

/** What a wrong-protocol server (an HTTP endpoint on the SIP port) says to anything. */
const HTTP_REPLY = "HTTP/1.1 400 Bad Request\r\nServer: not-sip\r\nContent-Length: 0\r\n\r\n";

/** Output that means the process crashed or leaked an exception instead of reporting. */
const CRASH = /Uncaught|Unhandled|unexpected error|TypeError|RangeError|\n\s+at .*:\d+:\d+/;

describe("UDP: a far end that answers garbage (socat)", () => {
  it("garbage in reply to every datagram: timeout, each reply dropped as unparseable and flagged in the trace", async () => {
    const target = await udpPeer(HTTP_REPLY);
    const r = await call(target, { timeoutSeconds: 2 });

    expect(r.outcome).toBe("timeout");
    expect(r.finalStatus).toBeNull();
    expect(r.reason).toMatch(
      /^no final response within 2 s \(INVITE sent 3 times\).*; 3 unusable message\(s\) from the peer dropped \(unparseable\)$/,
    );
    const got = receivedEntries(r);
    // One reply per INVITE copy: 0, 0.5 and 1.5 s within the timeout (more may follow while the
    // call lingers).
    expect(got.filter((e) => e.t < 2)).toHaveLength(3);
    expect(got).toHaveLength(r.trace.filter((e) => e.method === "INVITE").length);
    for (const e of got) {
      expect(e.dropped).toMatch(/^unparseable: /);
      expect(e.summary).toBe("HTTP/1.1 400 Bad Request");
      expect(e.retransmission).toBe(false);
    }
    expect(r.dropped.length).toBeGreaterThanOrEqual(3);
    expect(new Set(r.dropped.map((d) => d.reason))).toEqual(new Set(["unparseable"]));
    // The result is one consistent snapshot: every drop it counts is in its trace.
    expect(r.dropped).toHaveLength(got.length);
  });

  it("a response cut off in the middle of its headers (no blank line) is dropped as truncated", async () => {
    const cut = `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP ${ip}:5060;branch=z9hG4bK-cut\r\nFrom: <sip:probe112@${ip}>;tag=cut\r\nTo: <sip:112@`;
    const target = await udpPeer(cut);
    const r = await call(target, { timeoutSeconds: 1 });

    expect(r.outcome).toBe("timeout");
    expect(r.finalStatus).toBeNull();
    const got = receivedEntries(r);
    expect(got.length).toBeGreaterThanOrEqual(1);
    for (const e of got) {
      expect(e.dropped).toMatch(/^truncated: /);
      expect(e.summary).toBe("SIP/2.0 200 OK");
    }
    expect(new Set(r.dropped.map((d) => d.reason))).toEqual(new Set(["truncated"]));
    expect(r.reason).toMatch(/dropped \(truncated\)$/);
  });

  it("binary garbage with NUL bytes is dropped as unparseable, never taken for a truncated SIP message", async () => {
    const garbage = Buffer.concat([
      Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, 0x00, 0x00, 0x80]),
      Buffer.from("\x00SIP\x00garbage\x00"),
      Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a]),
    ]);
    const target = await udpPeer(garbage);
    const r = await call(target, { timeoutSeconds: 1 });

    expect(r.outcome).toBe("timeout");
    const got = receivedEntries(r);
    expect(got.length).toBeGreaterThanOrEqual(1);
    for (const e of got) {
      expect(e.dropped).toBeDefined();
      expect(e.bytes).toBe(garbage.length);
      // Reports and logs stay printable whatever the peer sent.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
      expect(e.summary).not.toMatch(/[\x00-\x1f]/);
    }
    // Not a SIP start line, so nothing was cut short: it is garbage, and the drop counters must say so.
    expect(new Set(r.dropped.map((d) => d.reason))).toEqual(new Set(["unparseable"]));
  });

  it("an oversized datagram (40000 bytes) is dropped as oversized; the process stays healthy and its next call is answered", async () => {
    const head = "SIP/2.0 200 OK\r\nX-Padding: ";
    const huge = `${head}${"a".repeat(40000 - head.length - 4)}\r\n\r\n`;
    expect(Buffer.byteLength(huge)).toBe(40000);
    const target = await udpPeer(huge);
    const r = await call(target, { timeoutSeconds: 1 });

    expect(r.outcome).toBe("timeout");
    expect(r.dropped.length).toBeGreaterThanOrEqual(1);
    for (const d of r.dropped) {
      expect(d.reason).toBe("oversized");
      expect(d.detail).toMatch(/^datagram of 40000 bytes exceeds \d+$/);
    }
    const got = receivedEntries(r);
    expect(got.length).toBeGreaterThanOrEqual(1);
    for (const e of got) {
      expect(e.dropped).toMatch(/^oversized: /);
      expect(e.bytes).toBe(40000);
      // The trace keeps a bounded excerpt, not the whole datagram.
      expect(e.message.length).toBeLessThan(4096);
    }

    const { sipp, target: good } = await sippUas("uas-answer", { ring_ms: "0", answer_ms: "0" });
    const next = await call(good);
    await sipp.expectSuccess();
    expect(next.outcome).toBe("answered");
    expect(next.dropped).toEqual([]);
  });
});

describe("TCP: a far end whose byte stream cannot be framed (socat)", () => {
  it("a message without Content-Length: the engine closes the connection at once, a transport_error naming the framing fault", async () => {
    // The peer waits for our INVITE, answers without Content-Length, then keeps the connection
    // open: only our side can end the call before the timeout.
    const reply = join(dir, "no-content-length.txt");
    writeFileSync(reply, "HTTP/1.1 400 Bad Request\r\nServer: not-sip\r\n\r\n");
    const target = await tcpPeer(`read -r line\ncat ${reply}\nexec cat >/dev/null\n`);
    const r = await call(target, { transport: "tcp", timeoutSeconds: 5 });

    expect(r.outcome).toBe("transport_error");
    expect(r.finalStatus).toBeNull();
    expect(r.timings.total).toBeLessThan(2);
    expect(r.dropped).toHaveLength(1);
    expect(r.dropped[0]).toEqual({
      reason: "framing",
      detail: "message without Content-Length on a stream transport",
    });
    expect(traceLines(r)).toEqual(["> INVITE", "< HTTP/1.1 400 Bad Request (dropped)"]);
    expect(r.reason).toMatch(/framing/);
    // The reason must say what was wrong with the stream, not only that the connection ended.
    expect(r.reason).toMatch(/without Content-Length/);
  });

  it("a Content-Length that promises more than ever comes, on a connection kept open: timeout at the configured time", async () => {
    // A proper 100 Trying first (so the stream demonstrably works), then a 200 whose body never
    // completes. The headers are copied from our INVITE so that the 100 is accepted.
    const script = [
      "via= from= to= callid= cseq=",
      "while IFS= read -r line; do",
      `  line=$(printf '%s' "$line" | tr -d '\\r')`,
      '  [ -z "$line" ] && break',
      '  case "$line" in',
      '    Via:*) [ -z "$via" ] && via=$line ;;',
      "    From:*) from=$line ;;",
      "    To:*) to=$line ;;",
      "    Call-ID:*) callid=$line ;;",
      "    CSeq:*) cseq=$line ;;",
      "  esac",
      "done",
      `printf '%s\\r\\n' 'SIP/2.0 100 Trying' "$via" "$from" "$to" "$callid" "$cseq" 'Content-Length: 0' ''`,
      `printf '%s\\r\\n' 'SIP/2.0 200 OK' "$via" "$from" "$to;tag=never-complete" "$callid" "$cseq" 'Content-Type: application/sdp' 'Content-Length: 500' '' 'v=0'`,
      "exec cat >/dev/null",
      "",
    ].join("\n");
    const target = await tcpPeer(script);
    const r = await call(target, { transport: "tcp", timeoutSeconds: 2 });

    expect(r.outcome).toBe("timeout");
    expect(r.finalStatus).toBeNull();
    expect(r.reason).toMatch(/^no final response within 2 s/);
    expect(r.timings.total).toBeGreaterThanOrEqual(2);
    expect(r.timings.total).toBeLessThan(3);
    expect(receivedEntries(r).map((e) => e.summary)).toEqual(["100 Trying"]);
    expect(r.dropped).toEqual([]);
  });
});

describe("UDP: responses that belong to someone else (SIPp)", () => {
  it("a response whose Via sent-by is not ours is dropped as foreign_via; the real answer completes the call", async () => {
    const { sipp, target } = await sippUas("uas-foreign-via", { answer_ms: "300" });
    const r = await call(target);
    await sipp.expectSuccess();

    expect(r.outcome).toBe("answered");
    expect(traceLines(r)).toEqual([
      "> INVITE",
      "< 100 Trying",
      "< SIP/2.0 180 Ringing (dropped)",
      "< 200 OK",
      "> ACK",
      "> BYE",
      "< 200 OK",
    ]);
    expect(r.dropped).toHaveLength(1);
    expect(r.dropped[0]!.reason).toBe("foreign_via");
    expect(r.dropped[0]!.detail).toContain("192.0.2.1");
    expect(r.trace.find((e) => e.dropped)!.dropped).toMatch(/^foreign_via: /);
    // The dropped 180 is not a response we got: SRD falls through to the 200.
    expect(r.timings.srd).toBe(r.timings.answer);
    expect(r.timings.answer).toBeGreaterThan(0.28);
  });

  it("a response that matches no transaction and no call (other branch, Call-ID and CSeq) is ignored and the call proceeds", async () => {
    const { sipp, target } = await sippUas("uas-stray-response", { answer_ms: "300" });
    const r = await call(target);
    const s = await sipp.expectSuccess();

    expect(r.outcome).toBe("answered");
    expect(r.finalStatus).toBe(200);
    expect(r.dropped).toEqual([]);
    const stray = r.trace.find((e) => e.callId?.startsWith("stray-"));
    expect(stray).toMatchObject({ direction: "received", status: 200, cseq: 4711, cseqMethod: "INVITE" });
    expect(stray!.dropped).toBeUndefined();
    const trying = r.trace.find((e) => e.status === 100)!;
    expect(stray!.t).toBeLessThan(trying.t);
    // Neither a first response nor an answer: the timings come from our own call's messages.
    expect(r.timings.firstResponse).toBeCloseTo(trying.t, 5);
    expect(r.timings.answer).toBeGreaterThan(0.28);
    // Only the real 200 was ACKed.
    expect(r.trace.filter((e) => e.method === "ACK")).toHaveLength(1);
    expect(sippLogEntries(s.messageLog).filter((e) => e.text.startsWith("ACK "))).toHaveLength(1);
  });
});

describe("the CLI facing a broken far end", () => {
  it("UDP garbage: exit code 1, a readable FAIL verdict with the reason, each drop listed, no crash", async () => {
    const target = await udpPeer(HTTP_REPLY);
    const started = performance.now();
    const run = await runCli(["call", target, "--hold", "0.5", "--timeout", "1"]);
    const seconds = (performance.now() - started) / 1000;

    expect(run.code, run.stderr).toBe(1);
    const [verdict] = run.stdout.split("\n");
    expect(verdict).toMatch(
      /^FAIL {2}timeout: no final response within 1 s \(INVITE sent 2 times\).*dropped \(unparseable\)$/,
    );
    expect(run.stdout).toMatch(/^ {2}dropped +unparseable: \S.*$/m);
    expect(run.stdout).toContain("x dropped: unparseable");
    expect(run.stderr).not.toMatch(CRASH);
    // Timeout, the 2 s UDP linger and process start-up; nothing waits longer.
    expect(seconds).toBeLessThan(6);
  });

  it("TCP framing fault: exit code 1, a transport_error verdict, the framing fault listed, no crash", async () => {
    const reply = join(dir, "cli-no-content-length.txt");
    writeFileSync(reply, "HTTP/1.1 400 Bad Request\r\nServer: not-sip\r\n\r\n");
    const target = await tcpPeer(`read -r line\ncat ${reply}\nexec cat >/dev/null\n`);
    const started = performance.now();
    const run = await runCli(["call", target, "--transport", "tcp", "--hold", "0.5", "--timeout", "5"]);
    const seconds = (performance.now() - started) / 1000;

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout.split("\n")[0]).toMatch(/^FAIL {2}transport_error: .*framing/);
    expect(run.stdout).toMatch(
      /^ {2}dropped +framing: message without Content-Length on a stream transport$/m,
    );
    expect(run.stderr).not.toMatch(CRASH);
    expect(seconds).toBeLessThan(4);
  });
});
