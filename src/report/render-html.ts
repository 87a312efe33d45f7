import { duration, localTime, percent, seconds } from "./format.js";
import type { ReportModel } from "./model.js";
import { availabilityChart, esc, timelineChart } from "./svg-charts.js";

const STYLE = `
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212121;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}th,td{border:1px solid #e0e0e0;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.meta{color:#616161}.verdict{padding:8px 12px;margin:12px 0;border-radius:4px;font-weight:600}
.ok{background:#e8f5e9;border:1px solid #2e7d32}.bad{background:#ffebee;border:1px solid #c62828}.warn{background:#fff8e1;border:1px solid #f9a825}
.problems li{margin:2px 0}.tag{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;background:#ffcdd2}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
.signoff td{height:34px}dl dt{font-weight:600;margin-top:6px}dl dd{margin-left:16px}
@page{size:A4 landscape;margin:12mm}@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}table,svg,.verdict{break-inside:avoid}.noprint{display:none}}
`;

function table(
  head: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  numeric: readonly number[] = [],
) {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const tr = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="n"' : ""}>${c}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

/** The compliance report as one self-contained, printable HTML page (no scripts, no external files). */
export function renderHtml(m: ReportModel, timeZone: string): string {
  const from = Date.parse(m.from) / 1000;
  const to = Date.parse(m.to) / 1000;
  const t = (x: number | string | null) => esc(localTime(x, timeZone));
  const out: string[] = [];
  out.push(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(m.title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${esc(m.title)}</h1>`,
    `<div class="meta">Period ${t(m.from)} – ${t(m.to)} · generated ${t(m.generatedAt)} · source ${esc(m.prometheus.url)}</div>`,
    `<div class="verdict ${m.journals.length === 0 ? "warn" : m.evidenceIntact ? "ok" : "bad"}">${
      m.journals.length === 0
        ? "No journals were given: figures are not backed by signed evidence."
        : m.evidenceIntact
          ? `Evidence intact: ${m.journals.length} journal(s) verified, no record edited, removed, inserted or reordered.`
          : "EVIDENCE BROKEN: at least one journal was altered. Figures below must not be relied on."
    }</div>`,
  );
  if (m.problems.length > 0) {
    out.push(
      `<div class="verdict warn">This report is incomplete. What it could not do:</div><ul class="problems">${m.problems
        .map((p) => `<li>${esc(p)}</li>`)
        .join("")}</ul>`,
    );
  }

  out.push("<h2>1. Availability and setup per provider, access technology and destination</h2>");
  if (m.groups.length === 0) out.push("<p>No figures: see above.</p>");
  else {
    out.push(
      table(
        [
          "Provider",
          "Access",
          "Destination",
          "Agents",
          "Scheduled calls",
          "Availability (calls)",
          "Availability (time)",
          "Data coverage",
          "SER",
          "SEER",
          "ISA",
          "SRD p50",
          "SRD p95",
          "SRD p99",
          "Verification failures",
        ],
        m.groups.map((g) => [
          esc(g.provider),
          esc(g.access),
          `${esc(g.destination)} <span class="meta">(${esc(g.role)})</span>`,
          esc(g.agents.join(", ")),
          `${g.scheduledAnswered} / ${g.scheduled}`,
          percent(g.availabilityAttempts),
          percent(g.availabilityTime),
          percent(g.coverage, 1),
          percent(g.ser, 2),
          percent(g.seer, 2),
          percent(g.isa, 2),
          seconds(g.srd.p50),
          seconds(g.srd.p95),
          seconds(g.srd.p99),
          g.verificationFailures.identity + g.verificationFailures.media === 0
            ? "0"
            : `identity ${g.verificationFailures.identity}, media ${g.verificationFailures.media}`,
        ]),
        [4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
      ),
      availabilityChart(m.groups),
      `<div class="meta">Dark bars: time-based availability; light bars: share of scheduled test calls answered. The scale starts at 90%.</div>`,
    );
    const outcomes = [...new Set(m.groups.flatMap((g) => Object.keys(g.outcomes)))].sort();
    out.push(
      "<h2>2. Outcomes of every test call (confirmations and sweeps included)</h2>",
      table(
        ["Provider", "Access", "Destination", "Attempts", ...outcomes, "Agent faults (not counted)"],
        m.groups.map((g) => [
          esc(g.provider),
          esc(g.access),
          esc(g.destination),
          String(g.attempts),
          ...outcomes.map((o) => String(g.outcomes[o] ?? 0)),
          String(g.probeErrors),
        ]),
        Array.from({ length: outcomes.length + 2 }, (_, i) => i + 3),
      ),
    );
  }

  out.push("<h2>3. Availability over time</h2>");
  if (m.checks.length === 0) out.push("<p>No data.</p>");
  else {
    out.push(
      `<div class="legend meta"><span style="background:#2e7d32"></span>test call succeeded<span style="background:#c62828"></span>failed<span style="background:#bdbdbd"></span>no data</div>`,
      timelineChart(m.checks, m.incidents, from, to, timeZone),
    );
  }

  out.push("<h2>4. Incidents</h2>");
  if (m.incidents.length === 0)
    out.push(
      m.prometheus.ok && m.checks.length > 0 ? "<p>No confirmed failure in this period.</p>" : "<p>—</p>",
    );
  else {
    out.push(
      table(
        ["#", "Start", "End", "Duration", "Time to detect", "Providers", "Access", "Paths", "User-hours"],
        m.incidents.map((i) => [
          `${i.id}${i.multiProvider ? ' <span class="tag">several providers</span>' : ""}`,
          t(i.start),
          i.end === null ? "ongoing at end of period" : t(i.end),
          `${duration(i.durationSeconds)}${i.gaps ? ' <span class="meta">(data gaps)</span>' : ""}`,
          duration(i.timeToDetectSeconds),
          esc(i.providers.join(", ")),
          esc(i.accesses.join(", ")),
          esc([...new Set(i.checks.map((c) => `${c.agent} ${c.path} → ${c.destination}`))].join("; ")),
          i.userHours === null ? "not estimated" : Math.round(i.userHours).toLocaleString("en"),
        ]),
        [0, 3, 4, 8],
      ),
      `<div class="meta">User-hours: subscribers of each affected provider × hours its paths were down (given with --users). The ENISA Art. 13a reference is 1 000 000 user-hours.</div>`,
    );
  }

  out.push("<h2>5. NL-Alert national tests</h2>");
  if (m.nationalTests.length === 0)
    out.push(m.prometheus.ok ? "<p>No national test with receiver data in this period.</p>" : "<p>—</p>");
  else {
    out.push(
      table(
        ["Scheduled", "Operator", "Receivers", "Received", "Delay after slot", "Verdict"],
        m.nationalTests.map((n) => [
          t(n.scheduledAt),
          esc(n.operator),
          `${esc(n.modems.join(", "))}${n.modemsWithoutData.length ? ` <span class="meta">(no data: ${esc(n.modemsWithoutData.join(", "))})</span>` : ""}`,
          n.receivedAt === null ? "—" : t(n.receivedAt),
          n.latencySeconds === null ? "—" : duration(n.latencySeconds),
          n.modemsWithoutData.length === n.modems.length && !n.received
            ? "no verdict: no receiver data"
            : n.inTime
              ? "received in time"
              : n.received
                ? '<span class="tag">late</span>'
                : '<span class="tag">not received</span>',
        ]),
        [4],
      ),
    );
  }

  out.push("<h2>6. Confirmation from the answering point</h2>");
  const c = m.crossConfirmation;
  if (!c) out.push("<p>Not available: see the list of problems above.</p>");
  else {
    out.push(
      `<p>${c.confirmed} of ${c.expectedAtResponder} answered test calls were confirmed by the answering point's own journal.</p>`,
      table(
        ["Finding", "Count", "Detail"],
        [
          [
            "Answered without a receipt (something else answered in the answering point's name)",
            String(c.answeredWithoutReceipt.length),
            esc(
              c.answeredWithoutReceipt
                .slice(0, 20)
                .map((x) => `${x.startedAt} ${x.check} token ${x.token}`)
                .join("; "),
            ),
          ],
          [
            "Receipts without an agent record",
            String(c.receiptsWithoutAgent.length),
            esc(
              c.receiptsWithoutAgent
                .slice(0, 20)
                .map((x) => `${x.receivedAt} ${x.agent}/${x.path} from ${x.source}`)
                .join("; "),
            ),
          ],
          [
            "Caller-ID mismatches",
            String(c.callerIdMismatches.length),
            esc(
              c.callerIdMismatches
                .slice(0, 20)
                .map(
                  (x) =>
                    `${x.receivedAt} ${x.agent}/${x.path}: received ${x.received}, declared ${x.declared}`,
                )
                .join("; "),
            ),
          ],
        ],
        [1],
      ),
    );
  }

  out.push("<h2>7. Integrity of the journals used</h2>");
  if (m.journals.length === 0) out.push("<p>No journals were given (--journal).</p>");
  else {
    out.push(
      table(
        ["Journal", "Path", "Records", "Signed", "Key", "Status", "First problem"],
        m.journals.map((j) => [
          esc(j.journal),
          esc(j.path),
          String(j.records),
          String(j.signed),
          j.keyId ? esc(j.keyId) : '<span class="meta">not checked</span>',
          j.ok ? "intact" : '<span class="tag">BROKEN</span>',
          j.problems[0]
            ? esc(
                `${j.problems[0].kind} at ${j.problems[0].file}:${j.problems[0].line}: ${j.problems[0].detail}`,
              )
            : esc(j.notes.join("; ")),
        ]),
        [2, 3],
      ),
    );
  }

  out.push(
    "<h2>8. Definitions</h2><dl>",
    "<dt>Availability (calls)</dt><dd>Scheduled test calls answered ÷ scheduled test calls. Confirmation, sweep and fallback calls are left out: they are placed because something failed. Agent faults (probe_error) count against no one.</dd>",
    "<dt>Availability (time)</dt><dd>Time the last test call of a check succeeded (answered, far end identified, media returned) ÷ time with data. A sample stands for at most 5 minutes; time without data is shown as coverage, never as available.</dd>",
    "<dt>SER, SEER, ISA</dt><dd>RFC 6076 §4.6–4.8 over every attempt: SER = answered ÷ (attempts − redirected); SEER = (answered + busy + no answer + declined) ÷ (attempts − redirected); ISA = 408/500/503/504 ÷ attempts.</dd>",
    "<dt>SRD</dt><dd>RFC 6076 §4.3.1 Session Request Delay of successful setups: INVITE to the first non-100 response; percentiles interpolated within histogram buckets, as Prometheus does.</dd>",
    "<dt>Incident</dt><dd>A confirmed failure (probe112_check_up 0) from the first failed test call to recovery; failures overlapping in time are one incident. Time to detect: first failed call to confirmation.</dd>",
    "<dt>Counters</dt><dd>Read as raw samples; increases are summed with counter resets (agent restarts) taken into account.</dd>",
    "</dl>",
    `<h2 class="signoff-h">Sign-off</h2><table class="signoff"><tr><th style="width:25%">Name</th><th style="width:25%">Organisation</th><th style="width:20%">Date</th><th>Signature</th></tr><tr><td></td><td></td><td></td><td></td></tr></table>`,
    "</body></html>",
  );
  return out.join("\n");
}
