import { existsSync, statSync } from "node:fs";
import { run, spawnManaged, tail } from "../test/support/process.js";
import { parseTsharkFields, TSHARK_FIELDS, type WirePacket } from "./wire-timings.js";

/** A running tshark capture. */
export interface Capture {
  readonly file: string;
  readonly filter: string;
  /** Lets tshark write what it still holds, stops it and checks that it left a capture file. */
  stop(): Promise<void>;
}

/** Options for {@link startCapture}. */
export interface CaptureOptions {
  readonly iface: string;
  /** BPF capture filter, so the file holds only the far end's traffic. */
  readonly filter: string;
  readonly file: string;
  readonly readyTimeoutMs?: number;
}

/** Pause after "Capturing on": cheap insurance that the first INVITE does not race the capture set-up. */
const SETTLE_MS = 300;
/** Pause before stopping: packets of the last call may still be on their way to the file. */
const FLUSH_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `tshark -i IFACE -f FILTER -w FILE` and resolves once it captures. */
export async function startCapture(options: CaptureOptions): Promise<Capture> {
  const proc = spawnManaged("tshark", ["-i", options.iface, "-f", options.filter, "-w", options.file], {
    name: "tshark",
    maxOutputChars: 64 * 1024,
  });
  try {
    await proc.waitFor(/Capturing on/, options.readyTimeoutMs ?? 15_000);
  } catch (e) {
    await proc.stop("SIGTERM", 1000);
    throw new Error(
      `tshark did not start capturing on ${options.iface} (capturing needs root or CAP_NET_RAW): ${(e as Error).message}`,
    );
  }
  await sleep(SETTLE_MS);
  return {
    file: options.file,
    filter: options.filter,
    async stop() {
      await sleep(FLUSH_MS);
      // SIGINT is tshark's orderly stop: dumpcap finishes the file before exiting.
      const result = await proc.stop("SIGINT", 10_000);
      if (!existsSync(options.file) || statSync(options.file).size === 0) {
        throw new Error(
          `tshark left no capture in ${options.file} (exit ${result.code ?? result.signal}):\n${tail(result.stderr)}`,
        );
      }
    },
  };
}

/** Reads the SIP messages of a capture; `farEndPort` tells which direction each one went. */
export async function readSipPackets(file: string, farEndPort: number): Promise<WirePacket[]> {
  const args = [
    "-r",
    file,
    // The far end does not listen on 5060, where tshark would look for SIP by itself.
    "-d",
    `udp.port==${farEndPort},sip`,
    "-Y",
    "sip",
    "-T",
    "fields",
    "-E",
    "separator=/t",
    "-E",
    "occurrence=f",
    ...TSHARK_FIELDS.flatMap((f) => ["-e", f]),
  ];
  const out = await run("tshark", args, 120_000);
  return parseTsharkFields(out, farEndPort);
}
