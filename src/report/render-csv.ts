import type { ReportModel } from "./model.js";

type Cell = string | number | boolean | null;

/** RFC 4180 field: quoted when it holds a comma, quote or line break; formula prefixes neutralised. */
function field(v: Cell): string {
  if (v === null) return "";
  let s = String(v);
  // A cell starting with = + - @ is run as a formula by spreadsheets: label values come from configs.
  if (typeof v === "string" && /^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(head: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  return `${[head, ...rows].map((r) => r.map(field).join(",")).join("\r\n")}\r\n`;
}

/** The tables of the report as separate CSV documents (figures first), ratios as fractions, times in ISO 8601. */
export function renderCsv(
  m: ReportModel,
): Record<"figures" | "incidents" | "national-tests" | "journals", string> {
  return {
    figures: csv(
      [
        "provider",
        "access",
        "destination",
        "role",
        "agents",
        "scheduled_calls",
        "scheduled_answered",
        "availability_calls",
        "availability_time",
        "coverage",
        "attempts",
        "ser",
        "seer",
        "isa",
        "srd_p50_seconds",
        "srd_p95_seconds",
        "srd_p99_seconds",
        "srd_count",
        "identity_failures",
        "media_failures",
        "agent_faults",
        "from",
        "to",
      ],
      m.groups.map((g) => [
        g.provider,
        g.access,
        g.destination,
        g.role,
        g.agents.join(" "),
        g.scheduled,
        g.scheduledAnswered,
        g.availabilityAttempts,
        g.availabilityTime,
        g.coverage,
        g.attempts,
        g.ser,
        g.seer,
        g.isa,
        g.srd.p50,
        g.srd.p95,
        g.srd.p99,
        g.srd.count,
        g.verificationFailures.identity,
        g.verificationFailures.media,
        g.probeErrors,
        m.from,
        m.to,
      ]),
    ),
    incidents: csv(
      [
        "incident",
        "start",
        "end",
        "duration_seconds",
        "time_to_detect_seconds",
        "providers",
        "access",
        "destinations",
        "checks",
        "multi_provider",
        "user_hours",
        "data_gaps",
      ],
      m.incidents.map((i) => [
        i.id,
        new Date(i.start * 1000).toISOString(),
        i.end === null ? null : new Date(i.end * 1000).toISOString(),
        i.durationSeconds,
        i.timeToDetectSeconds,
        i.providers.join(" "),
        i.accesses.join(" "),
        i.destinations.join(" "),
        i.checks.map((c) => `${c.agent}/${c.check}`).join(" "),
        i.multiProvider,
        i.userHours,
        i.gaps,
      ]),
    ),
    "national-tests": csv(
      [
        "scheduled_at",
        "operator",
        "modems",
        "received",
        "in_time",
        "received_at",
        "latency_seconds",
        "modems_without_data",
      ],
      m.nationalTests.map((n) => [
        n.scheduledAt,
        n.operator,
        n.modems.join(" "),
        n.received,
        n.inTime,
        n.receivedAt,
        n.latencySeconds,
        n.modemsWithoutData.join(" "),
      ]),
    ),
    journals: csv(
      ["journal", "path", "records", "signed", "key_id", "intact", "problems", "first_problem"],
      m.journals.map((j) => [
        j.journal,
        j.path,
        j.records,
        j.signed,
        j.keyId,
        j.ok,
        j.problems.length,
        j.problems[0] ? `${j.problems[0].kind} ${j.problems[0].file}:${j.problems[0].line}` : null,
      ]),
    ),
  };
}
