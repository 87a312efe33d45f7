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
