import type { CheckSpec } from "../config/agent-config.js";
import type { SipCallResult } from "../results/result.js";
import { renderLadder } from "../sip/ladder.js";

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

function ms(s: number | null | undefined): string {
  return s === null || s === undefined ? "—" : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
}

export interface StatusPageInput {
  readonly agent: { id: string; operator: string; region: string };
  readonly checks: readonly CheckSpec[];
  readonly latest: ReadonlyMap<string, SipCallResult>;
  readonly up: (check: string) => boolean | undefined;
  readonly nextRun: ReadonlyMap<string, number>;
  readonly generatedAt: Date;
}

/**
 * The agent's status page: every path × destination with its state and last result, and the
 * SIP ladder of every failed last call, so a NOC engineer sees at a glance what broke and how.
 * Self-contained HTML, no script, refreshed every 30 s.
 */
export function renderStatusPage(p: StatusPageInput): string {
  const rows = p.checks.map((c) => {
    const r = p.latest.get(c.name);
    const up = p.up(c.name);
    const state = r === undefined ? "pending" : up === false ? "down" : r.success ? "ok" : "failing";
    const next = p.nextRun.get(c.name);
    return `<tr class="${state}" id="check-${escapeHtml(c.name)}">
<td>${escapeHtml(c.provider.id)}</td><td>${escapeHtml(c.path.id)}<br><small>${escapeHtml(c.path.access)} · ${escapeHtml(c.path.transport)}</small></td>
<td>${escapeHtml(c.destination.id)}<br><small>${escapeHtml(c.destination.role)}</small></td>
<td class="state">${state}</td>
<td>${r ? escapeHtml(r.outcome) : "—"}${r?.call.finalStatus ? ` (${r.call.finalStatus})` : ""}</td>
<td>${ms(r?.call.timings.srd)}</td><td>${ms(r?.call.timings.answer)}</td>
<td>${r?.verification.media ?? "—"}${r?.call.media?.quality ? ` · MOS ${r.call.media.quality.mos}` : ""}</td>
<td>${r ? escapeHtml(r.verification.identity) : "—"}</td>
<td>${r ? `<time datetime="${r.startedAt}">${escapeHtml(r.startedAt.replace("T", " ").slice(0, 19))}Z</time>` : "—"}</td>
<td>${next ? escapeHtml(new Date(next).toISOString().slice(11, 19)) : "—"}</td>
</tr>`;
  });
  const failures = p.checks
    .map((c) => p.latest.get(c.name))
    .filter((r): r is SipCallResult => r !== undefined && !r.success)
    .map(
      (r) => `<section class="failure" id="failure-${escapeHtml(r.check)}">
<h3>${escapeHtml(r.check)}: ${escapeHtml(r.outcome)}</h3>
<p>${escapeHtml(r.reason)}</p>
<p><small>call-id ${escapeHtml(r.call.callId ?? "—")} · token ${escapeHtml(r.call.token)} · ${escapeHtml(r.startedAt)}</small></p>
<pre class="ladder">${escapeHtml(r.call.trace.length ? renderLadder(r.call.trace, r.call.local ?? "?", r.call.remote ?? "?") : "(no SIP message was exchanged)")}</pre>
</section>`,
    );
  const down = p.checks.filter((c) => p.up(c.name) === false).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30"><link rel="icon" href="data:,">
<title>probe112 ${escapeHtml(p.agent.id)}: ${down ? `${down} down` : "all up"}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#111}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
tr.ok td.state{color:#0a6b1f;font-weight:600}tr.failing td.state{color:#a15c00;font-weight:600}
tr.down td.state{color:#b00020;font-weight:700}tr.down{background:#fdecee}tr.pending td.state{color:#666}
pre.ladder{background:#f6f6f6;padding:.75em;overflow-x:auto;font-size:12px}
small{color:#555}
</style></head><body>
<h1>probe112 agent ${escapeHtml(p.agent.id)}</h1>
<p>operator ${escapeHtml(p.agent.operator)} · region ${escapeHtml(p.agent.region)} · ${p.checks.length} checks · <strong>${down} down</strong> · generated ${escapeHtml(p.generatedAt.toISOString())}
· <a href="/metrics">metrics</a> · <a href="/api/v1/results">results (JSON)</a></p>
<table><thead><tr><th>provider</th><th>path</th><th>destination</th><th>state</th><th>last outcome</th><th>SRD</th><th>answer</th><th>media</th><th>far end</th><th>last run</th><th>next run</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table>
${failures.length ? `<h2>Failed calls</h2>\n${failures.join("\n")}` : ""}
</body></html>
`;
}
