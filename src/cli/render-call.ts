import { renderLadder } from "../sip/ladder.js";
import type { TestCallResult } from "../sip/test-call.js";

function ms(seconds: number | null): string {
  if (seconds === null) return "—";
  return seconds < 1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(3)} s`;
}

/** The human-readable report of one test call: verdict, timings, media and the ladder. */
export function renderCallSummary(r: TestCallResult, opts: { ladder: boolean; messages: boolean }): string {
  const lines: string[] = [];
  const mediaProblem =
    r.outcome === "answered" && !r.success && r.media?.verdict
      ? `; media ${r.media.verdict}: ${r.media.reason}`
      : "";
  lines.push(`${r.success ? "PASS" : "FAIL"}  ${r.outcome}: ${r.reason}${mediaProblem}`);
  const path = r.local && r.remote ? ` (${r.local} -> ${r.remote})` : "";
  lines.push(
    `  target      ${r.target} over ${r.transport.toUpperCase()}${r.proxy ? ` via ${r.proxy}` : ""}${path}`,
  );
  const t = r.timings;
  lines.push(
    `  timings     first response ${ms(t.firstResponse)} · SRD ${ms(t.srd)} · answer ${ms(t.answer)} · SDD ${ms(t.sdd)} · duration ${ms(t.duration)}` +
      (t.connect !== null ? ` · connect ${ms(t.connect)}` : ""),
  );
  if (r.media) lines.push(...renderMedia(r.media));
  if (r.farEnd?.text) {
    const [first, ...rest] = r.farEnd.text.split(/\r?\n/);
    lines.push(`  far end     ${first}`, ...rest.map((l) => `              ${l}`));
  }
  const resent = Object.entries(r.retransmissions.sent).map(([k, n]) => `${k} x${n}`);
  if (resent.length > 0 || r.retransmissions.received > 0) {
    lines.push(
      `  resent      by us: ${resent.join(", ") || "none"}; by the peer: ${r.retransmissions.received}`,
    );
  }
  if (r.authChallenges > 0) lines.push(`  auth        ${r.authChallenges} digest challenge(s) answered`);
  if (r.hangup)
    lines.push(
      `  hangup      ${r.hangup === "local" ? "by us" : "by the far end"}${r.byeStatus ? ` (BYE ${r.byeStatus})` : ""}`,
    );
  for (const d of r.dropped) lines.push(`  dropped     ${d.reason}: ${d.detail}`);
  lines.push(`  call-id     ${r.callId ?? "—"}   token ${r.token}   total ${ms(t.total)}`);
  if (opts.ladder && r.trace.length > 0) {
    lines.push("", renderLadder(r.trace, r.local ?? "?", r.remote ?? "?"));
  }
  if (opts.messages) {
    for (const e of r.trace) {
      lines.push(
        "",
        `--- ${e.t.toFixed(4)} s ${e.direction} ${e.direction === "sent" ? "to" : "from"} ${e.remote}`,
        e.message.trimEnd(),
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function pct(x: number | null): string {
  return x === null ? "—" : `${(x * 100).toFixed(1)} %`;
}

/** The media lines: verdict, packets, loss, jitter, round trip, quality and the in-band token. */
function renderMedia(m: NonNullable<TestCallResult["media"]>): string[] {
  const how = m.mode === "none" ? "not checked" : m.loopback ? "RFC 6849 loopback" : "echo";
  const out = [`  media       ${m.verdict ?? "—"} (${how}): ${m.reason}`];
  out.push(`              ${m.codec ?? "?"} ${m.local ?? "?"} <-> ${m.remote ?? "?"}`);
  const p = m.packets;
  const loss = p.expected > 0 ? p.lost / p.expected : null;
  out.push(
    `              packets sent ${p.sent} · received ${p.received} · lost ${p.lost} (${pct(loss)}) · returned ${m.returned.frames} (${pct(m.returned.share)})`,
  );
  out.push(
    `              jitter ${ms(m.jitterSeconds)} · media round trip ${ms(m.returned.rttSeconds)} · RTCP round trip ${ms(m.rtcp?.rttSeconds ?? null)}` +
      (m.quality ? ` · R ${m.quality.r} · MOS ${m.quality.mos}` : ""),
  );
  if (m.dtmf.sent) out.push(`              token sent in-band as DTMF ${m.dtmf.sent}`);
  const rj = m.rejects;
  const rejected = rj ? Object.entries(rj).filter(([, n]) => n > 0) : [];
  if (rejected.length > 0)
    out.push(`              ignored: ${rejected.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  return out;
}
