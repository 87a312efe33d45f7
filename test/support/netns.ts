import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type ManagedProcess, run, type SpawnManagedOptions, spawnManaged } from "./process.js";

/** A network namespace with its own loopback and firewall, destroyed at the end of the test. */
export interface Netns {
  readonly name: string;
  /** Spawns a managed process inside the namespace (it only sees the namespace's loopback). */
  exec(command: string, args: string[], options?: SpawnManagedOptions): ManagedProcess;
  /** Runs a command inside the namespace to completion and returns its stdout. */
  run(command: string, args: string[]): Promise<string>;
  /** Runs `iptables <args>` inside the namespace and returns its stdout. */
  iptables(args: string[]): Promise<string>;
  /** Kills everything running inside and deletes the namespace (idempotent). */
  destroy(): Promise<void>;
}

const namespaces = new Map<string, Netns>();

/** Creates a namespace (name prefixed "p112-") with `lo` up. */
export async function createNetns(name = `p112-${randomBytes(4).toString("hex")}`): Promise<Netns> {
  if (!name.startsWith("p112-")) name = `p112-${name}`;
  await run("ip", ["netns", "add", name]);
  const processes = new Set<ManagedProcess>();
  let destroyed = false;
  const ns: Netns = {
    name,
    exec(command, args, options = {}) {
      const proc = spawnManaged("ip", ["netns", "exec", name, command, ...args], {
        name: `${command} (netns ${name})`,
        ...options,
      });
      processes.add(proc);
      return proc;
    },
    run: (command, args) => run("ip", ["netns", "exec", name, command, ...args]),
    iptables: (args) => run("ip", ["netns", "exec", name, "iptables", "-w", ...args]),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      namespaces.delete(name);
      await Promise.all([...processes].map((p) => p.stop("SIGTERM", 1000)));
      // Processes started by other means (e.g. startSipp({ netns })) would keep the namespace alive.
      await killNetnsPids(name);
      await run("ip", ["netns", "delete", name]).catch(() => {});
    },
  };
  namespaces.set(name, ns);
  try {
    await ns.run("ip", ["link", "set", "lo", "up"]);
  } catch (err) {
    await ns.destroy();
    throw err;
  }
  return ns;
}

async function killNetnsPids(name: string): Promise<void> {
  const pids = (await run("ip", ["netns", "pids", name]).catch(() => ""))
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }
}

/** Destroys every namespace created by this process that is still around. */
export async function destroyAllNetns(): Promise<void> {
  await Promise.all([...namespaces.values()].map((ns) => ns.destroy()));
}

process.once("exit", () => {
  for (const name of namespaces.keys()) {
    try {
      const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" })
        .split(/\s+/)
        .filter(Boolean);
      for (const pid of pids) process.kill(Number(pid), "SIGKILL");
      execFileSync("ip", ["netns", "delete", name]);
    } catch {
      // Best effort: the process is going away.
    }
  }
});

type NsRef = Netns | string;

function nsIptables(ns: NsRef, args: string[]): Promise<string> {
  return typeof ns === "string"
    ? run("ip", ["netns", "exec", ns, "iptables", "-w", ...args])
    : ns.iptables(args);
}

/**
 * Drops the 1st, (1+every)th, … UDP packet to `dport` whose payload contains `match` (e.g. the
 * first INVITE, so the retransmission after T1 gets through). With several strings, a packet
 * must contain all of them (e.g. "SIP/2.0 200 OK" and "CSeq: 2 BYE"); `sport` narrows the rule
 * to one sender. Returns the rule's arguments.
 */
export async function dropFirstUdpMatching(
  ns: NsRef,
  options: { dport: number; match: string | readonly string[]; sport?: number; every?: number },
): Promise<string[]> {
  const strings = typeof options.match === "string" ? [options.match] : [...options.match];
  if (strings.length === 0) throw new Error("dropFirstUdpMatching: `match` needs at least one string");
  // The string matches must come before the statistic match: only packets that reach the nth
  // counter are counted, so the counter sees exactly the matching packets.
  const rule = [
    "INPUT",
    "-p",
    "udp",
    ...(options.sport !== undefined ? ["--sport", String(options.sport)] : []),
    "--dport",
    String(options.dport),
    ...strings.flatMap((text) => ["-m", "string", "--string", text, "--algo", "bm"]),
    "-m",
    "statistic",
    "--mode",
    "nth",
    "--every",
    String(options.every ?? 2),
    "--packet",
    "0",
    "-j",
    "DROP",
  ];
  await nsIptables(ns, ["-A", ...rule]);
  return rule;
}

/** Drops UDP packets to `dport` at random with the given probability (0..1). */
export async function dropRandom(
  ns: NsRef,
  options: { dport: number; probability: number },
): Promise<string[]> {
  const rule = [
    "INPUT",
    "-p",
    "udp",
    "--dport",
    String(options.dport),
    "-m",
    "statistic",
    "--mode",
    "random",
    "--probability",
    String(options.probability),
    "-j",
    "DROP",
  ];
  await nsIptables(ns, ["-A", ...rule]);
  return rule;
}

/** Counters of a {@link dropRandomCounted} rule pair. */
export interface LossCounters {
  /** Packets to the port that reached the random match. */
  matched: number;
  /** Of those, the packets dropped. */
  dropped: number;
}

/**
 * Drops UDP packets to `dport` at random like {@link dropRandom}, through a chain of its own so
 * the counters give both sides of the realised drop rate: the INPUT rule jumping to `chain`
 * counts every packet to `dport`, the DROP rule inside it the ones dropped.
 */
export async function dropRandomCounted(
  ns: NsRef,
  options: { dport: number; probability: number; chain?: string },
): Promise<{ chain: string; read(): Promise<LossCounters> }> {
  const chain = options.chain ?? `P112-LOSS-${options.dport}`;
  await nsIptables(ns, ["-N", chain]);
  await nsIptables(ns, [
    "-A",
    chain,
    "-m",
    "statistic",
    "--mode",
    "random",
    "--probability",
    String(options.probability),
    "-j",
    "DROP",
  ]);
  await nsIptables(ns, ["-A", "INPUT", "-p", "udp", "--dport", String(options.dport), "-j", chain]);
  return {
    chain,
    async read() {
      const jump = (await ruleCounters(ns)).filter((c) => c.target === chain);
      const drop = (await ruleCounters(ns, chain)).filter((c) => c.target === "DROP");
      if (jump.length !== 1 || drop.length !== 1) throw new Error(`unexpected rules around chain ${chain}`);
      return { matched: jump[0]!.packets, dropped: drop[0]!.packets };
    },
  };
}

/** Silently drops everything to `dport` (a peer that vanished without RST/ICMP). */
export async function blackhole(
  ns: NsRef,
  options: { dport: number; proto: "udp" | "tcp" },
): Promise<string[]> {
  const rule = ["INPUT", "-p", options.proto, "--dport", String(options.dport), "-j", "DROP"];
  await nsIptables(ns, ["-A", ...rule]);
  return rule;
}

/** Answers TCP connection attempts to `port` with a RST (connection refused by a firewall). */
export async function rejectTcpReset(ns: NsRef, options: { port: number }): Promise<string[]> {
  const rule = [
    "INPUT",
    "-p",
    "tcp",
    "--dport",
    String(options.port),
    "-j",
    "REJECT",
    "--reject-with",
    "tcp-reset",
  ];
  await nsIptables(ns, ["-A", ...rule]);
  return rule;
}

/** Packet/byte counters of one iptables rule as listed by `iptables -L -v -n -x`. */
export interface RuleCounter {
  packets: number;
  bytes: number;
  target: string;
  /** The rest of the listing line (protocol, addresses, match options). */
  spec: string;
}

/** Reads the packet counters of every rule in `chain` (default INPUT). */
export async function ruleCounters(ns: NsRef, chain = "INPUT"): Promise<RuleCounter[]> {
  const out = await nsIptables(ns, ["-L", chain, "-v", "-n", "-x"]);
  return out
    .split("\n")
    .slice(2)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [packets, bytes, target, ...rest] = line.split(/\s+/);
      return { packets: Number(packets), bytes: Number(bytes), target: target ?? "", spec: rest.join(" ") };
    });
}

/** The two ends of a veth pair between the host and a namespace. */
export interface VethLink {
  /** The host's address on the link. */
  readonly hostIp: string;
  /** The namespace's address on the link: what the host connects to. */
  readonly nsIp: string;
  readonly hostDevice: string;
}

/**
 * Links a namespace to the host with a veth pair on a random /30 of 198.18.0.0/15 (RFC 2544's
 * benchmarking range, which no real network uses), so that host processes (Prometheus) and
 * processes in the namespace can reach each other. Deleting the namespace deletes the pair.
 */
export async function vethToHost(ns: Netns): Promise<VethLink> {
  const suffix = ns.name.slice("p112-".length, "p112-".length + 8);
  const hostDevice = `p112h-${suffix}`;
  const nsDevice = `p112n-${suffix}`;
  const used = await run("ip", ["-4", "-o", "addr", "show"]);
  let base = 0;
  for (let i = 0; ; i++) {
    // 2^15 /30 blocks; a block already on this host (another test's link) is skipped.
    base = (198 << 24) + (18 << 16) + Math.floor(Math.random() * 2 ** 15) * 4;
    if (!used.includes(` ${dotted(base + 1)}/`)) break;
    if (i > 20) throw new Error("no free /30 in 198.18.0.0/15 for a veth link");
  }
  const hostIp = dotted(base + 1);
  const nsIp = dotted(base + 2);
  await run("ip", ["link", "add", hostDevice, "type", "veth", "peer", "name", nsDevice, "netns", ns.name]);
  await run("ip", ["addr", "add", `${hostIp}/30`, "dev", hostDevice]);
  await run("ip", ["link", "set", hostDevice, "up"]);
  await ns.run("ip", ["addr", "add", `${nsIp}/30`, "dev", nsDevice]);
  await ns.run("ip", ["link", "set", nsDevice, "up"]);
  return { hostIp, nsIp, hostDevice };
}

function dotted(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}
