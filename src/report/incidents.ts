import { agentOf, type CheckFigures, type Incident, type IncidentCheck } from "./model.js";
import type { RawSeries } from "./prometheus-client.js";
import { type Segment, timeline } from "./series-math.js";

interface Run extends IncidentCheck {
  readonly gaps: boolean;
}

/** Runs of the confirmed state (probe112_check_up) at 0, each with its first failed probe. */
function downRuns(up: readonly Segment[], probe: readonly Segment[] | undefined, to: number) {
  const runs: Array<{ start: number; detected: number; end: number | null; gaps: boolean }> = [];
  let open: { detected: number; gaps: boolean } | undefined;
  for (const s of up) {
    if (s.value === 0) open ??= { detected: s.start, gaps: false };
    else if (s.value === null) {
      if (open) open.gaps = true;
    } else if (open) {
      runs.push({ ...open, start: firstFailure(probe, open.detected), end: s.start });
      open = undefined;
    }
  }
  if (open) {
    const last = up[up.length - 1];
    runs.push({
      ...open,
      start: firstFailure(probe, open.detected),
      end: null,
      gaps: open.gaps || (last !== undefined && last.value === null && last.end === to),
    });
  }
  return runs;
}

/** The start of the probe_success = 0 stretch that holds `detected` (the failure before its confirmation). */
function firstFailure(probe: readonly Segment[] | undefined, detected: number): number {
  if (!probe) return detected;
  let i = probe.findIndex((s) => s.start <= detected && detected < s.end);
  // At scrape resolution the confirmation and the probe's 0 can land on the same instant.
  if (i < 0 || probe[i]!.value !== 0) return detected;
  while (i > 0 && probe[i - 1]!.value === 0 && probe[i - 1]!.end === probe[i]!.start) i--;
  return Math.min(probe[i]!.start, detected);
}

/** Seconds covered by the union of intervals. */
function unionSeconds(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cur: [number, number] | undefined;
  for (const [s, e] of sorted) {
    if (cur && s <= cur[1]) cur[1] = Math.max(cur[1], e);
    else {
      if (cur) total += cur[1] - cur[0];
      cur = [s, e];
    }
  }
  return total + (cur ? cur[1] - cur[0] : 0);
}

/**
 * Incidents: every confirmed failure of a check, from its first failed probe to its recovery,
 * merged with the failures of other checks that overlap it — a shared element failing shows as
 * one incident naming every provider it took down. `users` (provider → subscribers) gives the
 * impact in user-hours.
 */
export function findIncidents(
  checkUp: readonly RawSeries[],
  checks: readonly CheckFigures[],
  from: number,
  to: number,
  users: ReadonlyMap<string, number>,
): Incident[] {
  const probeOf = new Map(checks.map((c) => [JSON.stringify([c.agent, c.check]), c]));
  const runs: Run[] = [];
  for (const s of checkUp) {
    const agent = agentOf(s.labels);
    const check = s.labels.check ?? "";
    const info = probeOf.get(JSON.stringify([agent, check]));
    for (const r of downRuns(timeline(s.samples, from, to), info?.timeline, to)) {
      runs.push({
        agent,
        check,
        provider: info?.provider ?? "",
        path: info?.path ?? "",
        access: info?.access ?? "",
        destination: info?.destination ?? "",
        ...r,
      });
    }
  }
  runs.sort((a, b) => a.start - b.start);
  const clusters: Run[][] = [];
  let reach = Number.NEGATIVE_INFINITY;
  for (const r of runs) {
    const end = r.end ?? to;
    if (clusters.length > 0 && r.start <= reach) {
      clusters[clusters.length - 1]!.push(r);
      reach = Math.max(reach, end);
    } else {
      clusters.push([r]);
      reach = end;
    }
  }
  return clusters.map((c, i): Incident => {
    const start = Math.min(...c.map((r) => r.start));
    const open = c.some((r) => r.end === null);
    const end = open ? null : Math.max(...c.map((r) => r.end!));
    const providers = [...new Set(c.map((r) => r.provider))].sort();
    let userHours: number | null = null;
    if (users.size > 0 && providers.every((p) => users.has(p))) {
      userHours = providers.reduce((sum, p) => {
        const down = unionSeconds(c.filter((r) => r.provider === p).map((r) => [r.start, r.end ?? to]));
        return sum + (users.get(p)! * down) / 3600;
      }, 0);
    }
    return {
      id: i + 1,
      start,
      end,
      durationSeconds: (end ?? to) - start,
      timeToDetectSeconds: Math.min(...c.map((r) => r.detected)) - start,
      providers,
      accesses: [...new Set(c.map((r) => r.access))].sort(),
      destinations: [...new Set(c.map((r) => r.destination))].sort(),
      checks: c.map(({ gaps: _g, ...r }) => r),
      multiProvider: providers.length > 1,
      userHours,
      gaps: c.some((r) => r.gaps),
    };
  });
}
