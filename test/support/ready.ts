import { rmSync } from "node:fs";
import { type ManagedProcess, tail } from "./process.js";

/** What {@link waitUntilReady} needs to know about a freshly started server. */
export interface ReadyWait {
  readonly proc: ManagedProcess;
  /** Used in the error: "NAME did not become ready at URL". */
  readonly name: string;
  readonly url: string;
  /** Removed when the server never comes up, as nobody else will. */
  readonly dir: string;
  readonly timeoutMs?: number | undefined;
  /** Whether it is ready; by default a 200 from URL/-/ready (Prometheus, Alertmanager). */
  readonly probe?: () => Promise<boolean>;
}

/** Polls until the server is ready; if it exits or the time runs out, kills it and throws with its output. */
export async function waitUntilReady(w: ReadyWait): Promise<void> {
  const probe =
    w.probe ??
    (() =>
      fetch(`${w.url}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      ));
  const deadline = Date.now() + (w.timeoutMs ?? 20_000);
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (!w.proc.running() || Date.now() > deadline) {
      await w.proc.stop("SIGKILL", 500);
      rmSync(w.dir, { recursive: true, force: true });
      throw new Error(`${w.name} did not become ready at ${w.url}; output tail:\n${tail(w.proc.output())}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
