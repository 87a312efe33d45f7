import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Argv, CommandModule } from "yargs";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { ladderHeader, ladderLine } from "../sip/ladder.js";
import { dnsServers } from "../sip/resolve.js";
import { parseSipUri } from "../sip/sip-uri.js";
import { startTestCall, type TestCallOptions } from "../sip/test-call.js";
import type { TraceEntry } from "../sip/trace.js";
import { renderCallSummary } from "./render-call.js";
import { EXIT, UsageError } from "./usage-error.js";

/** Headers the SIP stack writes itself; setting them by hand would break the call. */
const RESERVED_HEADERS = new Set([
  "via",
  "from",
  "to",
  "call-id",
  "cseq",
  "contact",
  "content-length",
  "content-type",
  "max-forwards",
  "route",
  "record-route",
  "supported",
  "user-agent",
  "allow",
]);

export const PASSWORD_ENV = "PROBE112_SIP_PASSWORD";

interface CallArgs {
  target: string;
  transport: "udp" | "tcp" | "tls";
  proxy?: string;
  from?: string;
  "from-name"?: string;
  user?: string;
  "password-file"?: string;
  header?: string[];
  pai?: string;
  token?: string;
  hold: number;
  "ring-timeout": number;
  timeout: number;
  "local-address"?: string;
  "local-port"?: number;
  "advertised-address"?: string;
  "ip-version"?: number;
  "dns-server"?: string[];
  "tls-ca"?: string;
  "tls-no-verify": boolean;
  "tls-cert"?: string;
  "tls-key"?: string;
  json: boolean;
  messages: boolean;
  media: "loopback" | "echo" | "none";
  "dtmf-token": boolean;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

/** `probe112 call`: one SIP test call from the command line. */
export function callCommand(setExit: (code: number) => void): CommandModule<object, CallArgs> {
  return {
    command: "call <target>",
    describe: "Place one SIP test call (INVITE, hold, BYE) and report every phase of it",
    builder: (y: Argv) =>
      y
        .positional("target", {
          type: "string",
          demandOption: true,
          describe: "Request-URI to call, e.g. sip:112@sbc.example.net;user=phone",
        })
        .option("transport", {
          alias: "t",
          choices: ["udp", "tcp", "tls"] as const,
          default: "udp" as const,
          describe: "SIP transport to the first hop",
        })
        .option("proxy", {
          type: "string",
          describe: "Outbound proxy URI, sent as a preloaded Route (e.g. sip:sbc.example.net:5060)",
        })
        .option("from", {
          type: "string",
          describe: "From URI (caller identity); default sip:probe112@<local address>",
        })
        .option("from-name", { type: "string", describe: "From display name" })
        .option("user", {
          type: "string",
          describe: `Digest username for 401/407 challenges (password from --password-file or $${PASSWORD_ENV})`,
        })
        .option("password-file", {
          type: "string",
          describe: "File holding the digest password (first line)",
        })
        .option("header", {
          type: "string",
          array: true,
          describe: 'Extra header on the INVITE, "Name: value" (repeatable)',
        })
        .option("pai", { type: "string", describe: "P-Asserted-Identity URI to send" })
        .option("token", {
          type: "string",
          describe:
            "Probe token for the far end to identify this call (10 random digits when absent); digits, * and # also go in-band",
        })
        .option("hold", {
          type: "number",
          default: 2,
          describe: "Seconds to hold the answered call before BYE (decimals allowed)",
        })
        .option("ring-timeout", {
          type: "number",
          default: 30,
          describe: "Seconds to wait for an answer before CANCEL",
        })
        .option("timeout", {
          type: "number",
          default: 60,
          describe: "Seconds the whole call may take; then it ends as a timeout",
        })
        .option("local-address", { type: "string", describe: "Local IP address to send from" })
        .option("local-port", { type: "number", describe: "Local UDP port (default: any free port)" })
        .option("advertised-address", {
          type: "string",
          describe: "Address to write in Via/Contact/SDP, e.g. behind static NAT",
        })
        .option("ip-version", { choices: [4, 6] as const, describe: "Resolve names to IPv4 or IPv6 only" })
        .option("dns-server", {
          type: "string",
          array: true,
          describe:
            "DNS server (IP or IP:PORT) for SRV and address lookups instead of the system resolver (repeatable)",
        })
        .option("tls-ca", {
          type: "string",
          describe: "PEM CA bundle to verify the TLS peer (default: system CAs)",
        })
        .option("tls-no-verify", {
          type: "boolean",
          default: false,
          describe: "Do NOT verify the TLS peer certificate (lab use only)",
        })
        .option("tls-cert", { type: "string", describe: "Client certificate (PEM) for mutual TLS" })
        .option("tls-key", { type: "string", describe: "Client key (PEM) for mutual TLS" })
        .option("media", {
          choices: ["loopback", "echo", "none"] as const,
          default: "loopback" as const,
          describe:
            "Media check: offer RFC 6849 loopback and verify our audio comes back (falls back to plain echo), expect a plain echo, or none",
        })
        .option("dtmf-token", {
          type: "boolean",
          default: true,
          describe:
            "Also send the probe token in-band as RFC 4733 digits after answer (--no-dtmf-token to skip)",
        })
        .option("json", {
          type: "boolean",
          default: false,
          describe: "Print one JSON object with the full result and trace",
        })
        .option("messages", {
          type: "boolean",
          default: false,
          describe: "Also print every SIP message in full",
        })
        .example("$0 call sip:112@127.0.0.1:5070", "Call a local test UAS over UDP")
        .example(
          "$0 call sip:112@psap.example.net -t tls --proxy sip:sbc.example.net",
          "Over TLS through an SBC",
        )
        .example(
          "$0 call sip:112@10.0.0.5 --user probe --password-file pw.txt --json",
          "With digest credentials, JSON out",
        ) as unknown as Argv<CallArgs>,
    handler: async (args) => {
      const logger = createLogger(args["log-level"], args["log-format"]);
      const options = toCallOptions(args, logger);
      const live = !args.json && process.stderr.isTTY === true;
      let liveHeader = false;
      let t0: number | undefined;
      const onTrace = live
        ? (e: TraceEntry) => {
            t0 ??= e.at;
            if (!liveHeader) {
              process.stderr.write(`${ladderHeader(e.local, e.remote)}\n`);
              liveHeader = true;
            }
            process.stderr.write(`${ladderLine({ ...e, t: (e.at - t0) / 1000 }, e.remote)}\n`);
          }
        : undefined;
      const running = startTestCall({ ...options, ...(onTrace ? { onTrace } : {}) });
      const result = await running.result;
      if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(renderCallSummary(result, { ladder: !live, messages: args.messages }));
      setExit(result.success ? EXIT.ok : EXIT.failed);
      await running.settled;
    },
  };
}

function seconds(flag: string, value: number, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new UsageError(
      flag,
      `must be a number of seconds ≥ ${min} (decimals allowed), got ${String(value)}`,
    );
  }
  return value;
}

function readSecretFile(flag: string, path: string): string {
  try {
    const first = readFileSync(path, "utf8").split(/\r?\n/)[0] ?? "";
    if (!first) throw new UsageError(flag, `${path} is empty: put the password on its first line`);
    return first;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      flag,
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

function readPem(flag: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      flag,
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Validates the flags and turns them into test-call options; throws UsageError naming the flag. */
export function toCallOptions(args: CallArgs, logger: TestCallOptions["logger"]): TestCallOptions {
  const target = parseSipUri(args.target);
  if (!target)
    throw new UsageError(
      "<target>",
      `not a sip: or sips: URI: ${args.target} (example: sip:112@192.0.2.10:5060)`,
    );
  if (target.scheme === "sips" && args.transport !== "tls") {
    throw new UsageError("--transport", "a sips: target needs --transport tls");
  }
  if (args.proxy !== undefined && !parseSipUri(args.proxy)) {
    throw new UsageError("--proxy", `not a sip: URI: ${args.proxy} (example: sip:sbc.example.net:5060)`);
  }
  for (const [flag, v] of [
    ["--from", args.from],
    ["--pai", args.pai],
  ] as const) {
    if (v !== undefined && !parseSipUri(v)) throw new UsageError(flag, `not a sip: URI: ${v}`);
  }
  if (args.token !== undefined && !/^[A-Za-z0-9._~*#-]{1,64}$/.test(args.token)) {
    throw new UsageError(
      "--token",
      "1–64 characters from A–Z a–z 0–9 . _ ~ - * # (digits, * and # can also go in-band)",
    );
  }
  const hold = seconds("--hold", args.hold, 0);
  const ringTimeout = seconds("--ring-timeout", args["ring-timeout"], 0.001);
  const timeout = seconds("--timeout", args.timeout, 0.001);
  if (timeout <= hold)
    throw new UsageError("--timeout", `(${timeout} s) must be longer than --hold (${hold} s)`);
  const headers = args.header ?? [];
  for (const h of headers) {
    const m = /^([A-Za-z0-9!%*_+`'~.-]+)\s*:\s*(.+)$/.exec(h);
    if (!m) throw new UsageError("--header", `expected "Name: value", got ${JSON.stringify(h)}`);
    if (RESERVED_HEADERS.has(m[1]!.toLowerCase())) {
      throw new UsageError("--header", `${m[1]} is written by the SIP stack and cannot be set by hand`);
    }
  }
  let credentials: TestCallOptions["credentials"];
  if (args.user !== undefined) {
    const password = args["password-file"]
      ? readSecretFile("--password-file", args["password-file"])
      : process.env[PASSWORD_ENV];
    if (!password) throw new UsageError("--user", `needs --password-file FILE or $${PASSWORD_ENV}`);
    credentials = { username: args.user, password };
  } else if (args["password-file"] !== undefined) {
    throw new UsageError("--password-file", "needs --user as well");
  }
  for (const [flag, v] of [
    ["--local-address", args["local-address"]],
    ["--advertised-address", args["advertised-address"]],
  ] as const) {
    if (v !== undefined && isIP(v) === 0) throw new UsageError(flag, `not an IP address: ${v}`);
  }
  const port = args["local-port"];
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new UsageError("--local-port", `must be a port number 0–65535, got ${port}`);
  }
  if (port !== undefined && args.transport !== "udp")
    throw new UsageError("--local-port", "applies to --transport udp only");
  if ((args["tls-cert"] === undefined) !== (args["tls-key"] === undefined)) {
    throw new UsageError(
      args["tls-cert"] === undefined ? "--tls-cert" : "--tls-key",
      "mutual TLS needs both --tls-cert and --tls-key",
    );
  }
  if (args.transport !== "tls" && (args["tls-ca"] || args["tls-cert"] || args["tls-no-verify"])) {
    throw new UsageError("--transport", "TLS options given, but the transport is not tls");
  }
  for (const server of args["dns-server"] ?? []) {
    if (isIP(dnsServerHost(server)) === 0) {
      throw new UsageError("--dns-server", `expected IP or IP:PORT ([IPv6]:PORT), got ${server}`);
    }
  }
  if (args["tls-no-verify"])
    logger.warn("TLS certificate verification is OFF (--tls-no-verify): lab use only");
  const ca = readPem("--tls-ca", args["tls-ca"]);
  const cert = readPem("--tls-cert", args["tls-cert"]);
  const key = readPem("--tls-key", args["tls-key"]);
  return {
    target: args.target,
    transport: args.transport,
    ...(args.proxy !== undefined ? { proxy: args.proxy } : {}),
    ...(args.from !== undefined ? { from: args.from } : {}),
    ...(args["from-name"] !== undefined ? { fromDisplayName: args["from-name"] } : {}),
    ...(credentials ? { credentials } : {}),
    ...(args.pai !== undefined ? { pAssertedIdentity: args.pai } : {}),
    ...(args.token !== undefined ? { token: args.token } : {}),
    media: args.media,
    dtmfToken: args["dtmf-token"],
    headers,
    holdSeconds: hold,
    ringTimeoutSeconds: ringTimeout,
    timeoutSeconds: timeout,
    ...(args["local-address"] !== undefined ? { localAddress: args["local-address"] } : {}),
    ...(port !== undefined ? { localPort: port } : {}),
    ...(args["advertised-address"] !== undefined ? { advertisedAddress: args["advertised-address"] } : {}),
    ...(args["ip-version"] !== undefined ? { family: args["ip-version"] as 4 | 6 } : {}),
    ...(args["dns-server"]?.length ? { dns: dnsServers(args["dns-server"]) } : {}),
    tls: {
      verify: !args["tls-no-verify"],
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
    },
    logger,
  };
}

/** The address part of "ip", "ip:port" or "[ipv6]:port". */
function dnsServerHost(server: string): string {
  const bracketed = /^\[(.+)\](?::\d+)?$/.exec(server);
  if (bracketed) return bracketed[1]!;
  const parts = server.split(":");
  return parts.length === 2 ? parts[0]! : server;
}
