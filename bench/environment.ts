import { spawnSync } from "node:child_process";
import { cpus, loadavg, release, totalmem } from "node:os";

/** Where and on what a benchmark ran, so results from different machines are not confused. */
export interface Environment {
  readonly date: string;
  readonly node: string;
  readonly platform: string;
  readonly kernel: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryMiB: number;
  /** 1, 5 and 15 minute load averages when the benchmark started: other work skews timings. */
  readonly loadAverage: readonly number[];
  readonly gitCommit: string | null;
  /** True when the working tree differs from the commit, i.e. the commit alone does not describe the code. */
  readonly gitDirty: boolean | null;
  readonly tshark: string | null;
  readonly sipp: string | null;
}

function firstLine(command: string, args: string[], cwd: string, pattern?: RegExp): string | null {
  // spawnSync rather than execFileSync: `sipp -v` prints its version and exits 99.
  const r = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 10_000,
  });
  if (r.error || typeof r.stdout !== "string") return null;
  const lines = r.stdout.split("\n").map((l) => l.trim());
  return (pattern ? lines.find((l) => pattern.test(l)) : lines.find(Boolean)) ?? null;
}

/** Describes this machine and checkout; `root` is the repository directory. */
export function environmentInfo(root: string): Environment {
  const commit = firstLine("git", ["rev-parse", "HEAD"], root, /^[0-9a-f]{40}$/);
  const changed = firstLine("git", ["status", "--porcelain"], root);
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cpuCount: cpus().length,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    gitCommit: commit,
    gitDirty: commit === null ? null : changed !== null,
    tshark: firstLine("tshark", ["--version"], root),
    sipp: firstLine("sipp", ["-v"], root, /SIPp v/),
  };
}
