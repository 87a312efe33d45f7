import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ManagedProcess, spawnManaged } from "./process.js";

/**
 * Two connected pseudo-terminals from socat, at DIR/modem and DIR/host: the simulated modem
 * opens one end, the code under test the other, exactly as it would open /dev/ttyUSB2. Killing
 * socat makes the device vanish; starting it again with the same links is the modem coming back
 * (a USB modem re-enumerating).
 */
export interface PtyPair {
  readonly dir: string;
  readonly modem: string;
  readonly host: string;
  /** The device vanishes: socat is killed, both ends close, the links go. */
  unplug(): Promise<void>;
  /** The device returns at the same path (a new pty behind the same link). */
  plug(): Promise<void>;
  /** Ends socat and removes the directory. */
  close(): Promise<void>;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts socat with two linked ptys in a fresh temporary directory. */
export async function startPtyPair(name = "modem"): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), `p112-${name}-`));
  const modem = join(dir, "modem");
  const host = join(dir, "host");
  let socat: ManagedProcess | undefined;
  const start = async () => {
    socat = spawnManaged(
      "socat",
      ["-d", "-d", `pty,raw,echo=0,link=${modem}`, `pty,raw,echo=0,link=${host}`],
      { name: `socat ${name}` },
    );
    await socat.waitFor(/starting data transfer loop/, 5000);
    await waitFor(() => existsSync(modem) && existsSync(host), 5000, `${modem} and ${host}`);
  };
  const stop = async () => {
    await socat?.stop("SIGTERM", 2000);
    socat = undefined;
    await waitFor(() => !existsSync(host), 5000, `${host} gone`);
  };
  await start();
  return {
    dir,
    modem,
    host,
    unplug: stop,
    plug: start,
    close: async () => {
      if (socat) await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
