import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ManagedProcess, run, spawnManaged } from "./process.js";

/** A running packet capture on loopback into a pcapng file (tshark, i.e. dumpcap underneath). */
export interface Capture {
  readonly file: string;
  readonly process: ManagedProcess;
  /** Ends the capture once everything sent so far is in the file; resolves with the file. */
  stop(): Promise<string>;
  /** {@link readFields} on this capture, without the end-of-capture marker. */
  read(options: ReadFieldsOptions): Promise<Record<string, string>[]>;
  /** Deletes the capture (keep it after a failure, for a look with Wireshark). */
  remove(): void;
}

/** Options for {@link startCapture}. */
export interface CaptureOptions {
  /** Capture filter (BPF), e.g. "udp and dst host 127.1.2.3 and dst port 6000". */
  filter: string;
  readyTimeoutMs?: number;
}

const MARKER_HOST = "127.0.0.1";

/**
 * Starts tshark on `lo` and resolves once it reports that capturing has begun.
 *
 * Stopping needs care: dumpcap receives packets from the kernel in blocks that are handed over
 * only when full or after a timeout, and on SIGINT it drops a block not yet handed over. Packets
 * sent in the last moments before the stop would silently be missing from the file. So the
 * capture also matches datagrams to a marker port of its own, tshark prints every packet as it
 * writes it, and `stop()` sends a marker and waits until tshark has printed it: by then every
 * earlier packet is in the file too.
 */
export async function startCapture(options: CaptureOptions): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), "p112-capture-"));
  const file = join(dir, "capture.pcapng");
  const marker = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    marker.once("error", reject);
    marker.bind(0, MARKER_HOST, () => resolve());
  });
  // A test that fails before stop() must not be kept alive by this socket.
  marker.unref();
  const markerPort = marker.address().port;
  const filter = `(${options.filter}) or (udp and dst host ${MARKER_HOST} and dst port ${markerPort})`;
  const args = ["-n", "-i", "lo", "-f", filter, "-w", file, "-P", "-l", "-T", "fields", "-e", "udp.dstport"];
  const proc = spawnManaged("tshark", args, { name: "tshark" });
  try {
    await proc.waitFor(/Capturing on/, options.readyTimeoutMs ?? 10000);
  } catch (e) {
    marker.close();
    await proc.stop("SIGINT", 2000);
    throw e;
  }
  const seenMarker = new RegExp(`^${markerPort}$`, "m");
  return {
    file,
    process: proc,
    async stop() {
      try {
        await new Promise<void>((resolve, reject) =>
          marker.send("p112-end-of-capture", markerPort, MARKER_HOST, (e) => (e ? reject(e) : resolve())),
        );
        await proc
          .waitFor(() => seenMarker.test(proc.stdout()), 5000)
          .catch((e: Error) => {
            throw new Error(
              `the capture may be incomplete: tshark never showed its end marker\n${e.message}`,
            );
          });
      } finally {
        marker.close();
        await proc.stop("SIGINT", 5000);
      }
      return file;
    },
    read: (o) =>
      readFields(file, { ...o, display: `(${o.display ?? "frame"}) && !(udp.dstport == ${markerPort})` }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Options for {@link readFields}. */
export interface ReadFieldsOptions {
  /** Fields to print, e.g. ["rtp.seq", "rtpevent.event_id"]. */
  fields: string[];
  /** Display filter, e.g. "rtpevent". */
  display?: string;
  /** "Decode As" rules (`-d`), e.g. ["udp.port==6000,rtp"]. */
  decodeAs?: string[];
}

/** Reads a capture file with `tshark -T fields`: one record per packet, keyed by field name. */
export async function readFields(
  file: string,
  options: ReadFieldsOptions,
): Promise<Record<string, string>[]> {
  const args = ["-n", "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"];
  for (const rule of options.decodeAs ?? []) args.push("-d", rule);
  if (options.display) args.push("-Y", options.display);
  for (const f of options.fields) args.push("-e", f);
  const out = await run("tshark", args, 30000);
  return out
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const values = line.split("\t");
      return Object.fromEntries(options.fields.map((f, i) => [f, values[i] ?? ""]));
    });
}
