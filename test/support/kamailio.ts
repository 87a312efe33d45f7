import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExitResult, type ManagedProcess, spawnManaged, tail, waitForPort } from "./process.js";

/** One socket Kamailio listens on. */
export interface KamailioListen {
  proto: "udp" | "tcp" | "tls";
  ip: string;
  port: number;
}

/** TLS material for the `tls` listeners. */
export interface KamailioTls {
  certFile: string;
  keyFile: string;
  /** CA used to verify client certificates. */
  caFile?: string;
  /** Demand and verify a client certificate (mutual TLS); needs `caFile`. */
  requireClientCert?: boolean;
}

/** Options for {@link startKamailio}. */
export interface KamailioOptions {
  listen: KamailioListen[];
  /** Where every request not addressed to the proxy itself is relayed. */
  upstream: { proto: "udp" | "tcp"; host: string; port: number };
  /** record_route() on dialog-forming requests so ACK/BYE traverse the proxy; default true. */
  recordRoute?: boolean;
  tls?: KamailioTls;
  /** When both are set, initial INVITEs are challenged with 407 (digest, plain password). */
  authUser?: string;
  authPassword?: string;
  /** Digest realm for the 407 challenge; default "probe112.test". */
  authRealm?: string;
  /** Offer qop=auth in the challenge; default true. */
  authQop?: boolean;
  /** tm fr_timer / fr_inv_timer in ms (defaults 30000 / 120000 as in Kamailio). */
  frTimerMs?: number;
  frInvTimerMs?: number;
  /** Kamailio `debug` level (2 = info, 3 = debug); default 2. */
  debugLevel?: number;
  /** Run inside this network namespace. */
  netns?: string;
  readyTimeoutMs?: number;
  /** Headers removed from initial requests before relaying them, as an SBC strips what it does not know. */
  removeHeaders?: string[];
}

/** A running Kamailio proxy. */
export interface KamailioInstance {
  readonly process: ManagedProcess;
  readonly dir: string;
  readonly configPath: string;
  /** Generated kamailio.cfg, for debugging failures. */
  readonly config: string;
  /** Generated tls.cfg when TLS is configured. */
  readonly tlsConfig: string | undefined;
  /** Kamailio's log so far (it logs to stderr). */
  log(): string;
  /** Terminates Kamailio and all of its worker processes. */
  stop(): Promise<ExitResult>;
}

/** Renders the tls module's configuration file. */
export function kamailioTlsConfig(tls: KamailioTls): string {
  const verify = tls.requireClientCert ? "yes" : "no";
  return [
    "[server:default]",
    "method = TLSv1.2+",
    `verify_certificate = ${verify}`,
    `require_certificate = ${verify}`,
    `certificate = ${tls.certFile}`,
    `private_key = ${tls.keyFile}`,
    ...(tls.caFile ? [`ca_list = ${tls.caFile}`] : []),
    "",
    "[client:default]",
    "method = TLSv1.2+",
    "verify_certificate = no",
    "require_certificate = no",
    "",
  ].join("\n");
}

function quote(value: string): string {
  if (/["\\\n]/.test(value))
    throw new Error(`kamailio.cfg value must not contain quotes/backslashes: ${value}`);
  return `"${value}"`;
}

/** Renders kamailio.cfg for a loopback-only, stateful, record-routing relay proxy. */
export function kamailioConfig(options: KamailioOptions, tlsConfigPath?: string): string {
  const hasTls = options.listen.some((l) => l.proto === "tls");
  if (hasTls && !options.tls) throw new Error("startKamailio: a tls listener needs the `tls` option");
  const auth = options.authUser !== undefined && options.authPassword !== undefined;
  const realm = options.authRealm ?? "probe112.test";
  const recordRoute = options.recordRoute ?? true;
  const up = options.upstream;
  const upstreamUri = `sip:${up.host.includes(":") ? `[${up.host}]` : up.host}:${up.port};transport=${up.proto}`;
  const listenLines = options.listen.map(
    (l) => `listen=${l.proto}:${l.ip.includes(":") ? `[${l.ip}]` : l.ip}:${l.port}`,
  );

  return `#!KAMAILIO
# Test proxy: relays everything not addressed to itself to ${upstreamUri}.
debug=${options.debugLevel ?? 2}
log_stderror=yes
memdbg=5
memlog=5
# Few workers: the suite runs on two cores next to several SIPp instances.
children=2
tcp_children=2
auto_aliases=no
# No resolver traffic: every peer is a loopback IP literal.
dns=no
rev_dns=no
use_dns_cache=no
dns_try_ipv6=no
dns_try_naptr=no
dns_srv_lb=no
enable_sctp=no
tcp_accept_no_cl=yes
tcp_connection_lifetime=60
server_header="Server: probe112-test-proxy"
user_agent_header="User-Agent: probe112-test-proxy"
${hasTls ? "enable_tls=yes\n" : ""}${listenLines.join("\n")}

${hasTls ? 'loadmodule "tls.so"\n' : ""}loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "nathelper.so"
${auth ? 'loadmodule "auth.so"\n' : ""}
${hasTls ? `modparam("tls", "config", ${quote(tlsConfigPath ?? "")})\n` : ""}modparam("tm", "fr_timer", ${options.frTimerMs ?? 30000})
modparam("tm", "fr_inv_timer", ${options.frInvTimerMs ?? 120000})
modparam("rr", "enable_full_lr", 1)
# Connection reuse for TCP/TLS clients depends on the ;alias Contact parameter.
modparam("nathelper", "natping_interval", 0)

request_route {
  xlog("L_INFO", "req $rm $ru from $proto:$si:$sp cid=$ci\\n");
  # Reply to the source port, as clients behind NAT and ephemeral-port UACs expect.
  force_rport();
  if (!mf_process_maxfwd_header("10")) {
    sl_send_reply("483", "Too Many Hops");
    exit;
  }

  if (is_method("CANCEL")) {
    if (t_check_trans()) {
      route(RELAY);
    }
    exit;
  }

  # Absorb retransmissions of requests whose transaction already exists.
  if (!is_method("ACK")) {
    if (t_precheck_trans()) {
      t_check_trans();
      exit;
    }
    t_check_trans();
  }

  route(WITHINDLG);

  # Initial requests from here on; a preloaded Route to us must not be forwarded.
  remove_hf("Route");
${(options.removeHeaders ?? []).map((h) => `  remove_hf(${quote(h)});\n`).join("")}
  if (uri == myself && $rU == $null) {
    if (is_method("OPTIONS")) {
      sl_send_reply("200", "OK");
    } else {
      sl_send_reply("404", "Not Here");
    }
    exit;
  }
${
  auth
    ? `
  route(AUTH);
`
    : ""
}
  if (proto == TCP || proto == TLS) {
    add_contact_alias();
  }
${recordRoute ? `  if (is_method("INVITE|SUBSCRIBE|REFER")) {\n    record_route();\n  }\n` : ""}
  $du = ${quote(upstreamUri)};
  route(RELAY);
}

route[RELAY] {
  if (!t_relay()) {
    sl_reply_error();
  }
  exit;
}

route[WITHINDLG] {
  if (!has_totag()) {
    return;
  }
  if (loose_route()) {
    # Requests towards a TCP/TLS client go back over its own connection.
    handle_ruri_alias();
    route(RELAY);
    exit;
  }
  if (is_method("ACK")) {
    # ACK for a negative reply is absorbed by t_check_trans; anything else is stray.
    if (t_check_trans()) {
      route(RELAY);
    }
    exit;
  }
  sl_send_reply("404", "Not Here");
  exit;
}
${
  auth
    ? `
route[AUTH] {
  if (!is_method("INVITE")) {
    return;
  }
  if (!is_present_hf("Proxy-Authorization")) {
    proxy_challenge(${quote(realm)}, "${(options.authQop ?? true) ? 1 : 0}");
    exit;
  }
  pv_proxy_authenticate(${quote(realm)}, ${quote(options.authPassword!)}, "0");
  $var(rc) = $rc;
  if ($var(rc) == -2 || ($var(rc) == 1 && $au != ${quote(options.authUser!)})) {
    sl_send_reply("403", "Forbidden");
    exit;
  }
  if ($var(rc) != 1) {
    # Stale or foreign nonce, missing credentials: challenge again.
    proxy_challenge(${quote(realm)}, "${(options.authQop ?? true) ? 1 : 0}");
    exit;
  }
  consume_credentials();
}
`
    : ""
}`;
}

/**
 * Writes kamailio.cfg (and tls.cfg) into a temp dir and runs Kamailio in the foreground
 * (-DD: no daemonizing, workers stay in its process group) with its runtime dir, pid file and
 * logging kept inside that dir; resolves once every listener is bound.
 */
export async function startKamailio(options: KamailioOptions): Promise<KamailioInstance> {
  if (options.listen.length === 0) throw new Error("startKamailio: at least one listener is required");
  const dir = mkdtempSync(join(tmpdir(), "p112-kamailio-"));
  const configPath = join(dir, "kamailio.cfg");
  let tlsConfig: string | undefined;
  let tlsConfigPath: string | undefined;
  if (options.tls) {
    tlsConfig = kamailioTlsConfig(options.tls);
    tlsConfigPath = join(dir, "tls.cfg");
    writeFileSync(tlsConfigPath, tlsConfig);
  }
  const config = kamailioConfig(options, tlsConfigPath);
  writeFileSync(configPath, config);

  // -Y keeps the runtime dir (FIFO/ctl sockets, if any module wanted them) out of /run/kamailio.
  const args = [
    "-f",
    configPath,
    "-DD",
    "-E",
    "-m",
    "64",
    "-M",
    "8",
    "-w",
    dir,
    "-Y",
    dir,
    "-P",
    join(dir, "kamailio.pid"),
  ];
  const name = `kamailio ${options.listen.map((l) => `${l.proto}:${l.ip}:${l.port}`).join(",")}`;
  const proc = options.netns
    ? spawnManaged("ip", ["netns", "exec", options.netns, "kamailio", ...args], { name, cwd: dir })
    : spawnManaged("kamailio", args, { name, cwd: dir });

  const stop = async () => {
    const result = await proc.stop("SIGTERM", 3000);
    rmSync(dir, { recursive: true, force: true });
    return result;
  };
  try {
    for (const l of options.listen) {
      await waitForPort(l.proto === "udp" ? "udp" : "tcp", l.ip, l.port, options.readyTimeoutMs ?? 10000, {
        netns: options.netns,
        // A bare TCP connect to a TLS port only produces handshake errors in the log.
        tcpProbe: l.proto === "tls" ? "ss" : "connect",
        process: proc,
      });
    }
  } catch (err) {
    await proc.stop("SIGKILL", 1000);
    throw new Error(
      `Kamailio did not start: ${(err as Error).message.split("\n")[0]}\n--- log (tail) ---\n${tail(proc.output(), 40)}\n--- kamailio.cfg ---\n${config}`,
    );
  }
  return { process: proc, dir, configPath, config, tlsConfig, log: () => proc.output(), stop };
}
