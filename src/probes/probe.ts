import type { Attempt, ProbeResult } from "../results/result.js";

/** What a run of a probe is told. */
export interface ProbeRun {
  readonly attempt: Attempt;
  /** Ends the run early (shutdown): the probe must still end cleanly and return a result. */
  readonly signal: AbortSignal;
}

/** One kind of probe behind one interface: run once, return exactly one result, never throw. */
export interface Probe {
  readonly kind: string;
  readonly check: string;
  run(run: ProbeRun): Promise<ProbeResult>;
}

/**
 * A probe that listens instead of being scheduled (a cell-broadcast receiver): its results come
 * when something happens, each one to `publish`, in order.
 */
export interface ListeningProbe<R extends ProbeResult = ProbeResult> {
  readonly kind: string;
  readonly check: string;
  /** Starts listening; never throws (a missing device is reported and retried). */
  start(publish: (r: R) => void): void;
  /** Stops listening and releases the device. */
  stop(): Promise<void>;
}
