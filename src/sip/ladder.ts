/** What a ladder line needs of a trace entry. */
export interface LadderEntry {
  readonly t: number;
  readonly direction: "sent" | "received";
  readonly summary: string;
  readonly method?: string;
  readonly status?: number;
  readonly cseqMethod?: string;
  readonly remote: string;
  readonly retransmission: boolean;
  readonly timer?: string;
  readonly dropped?: string;
}

const WIDTH = 44;

/** A short label for the arrow: the method, or the status line of a response with its method. */
function label(e: LadderEntry): string {
  if (e.dropped !== undefined) return `x dropped: ${e.dropped.split(":")[0]}`;
  let text: string;
  if (e.method) text = e.method;
  else {
    const statusLine = e.summary.length > 26 ? `${e.summary.slice(0, 25)}…` : e.summary;
    text = e.cseqMethod && e.cseqMethod !== "INVITE" ? `${statusLine} (${e.cseqMethod})` : statusLine;
  }
  if (e.timer) text += ` [Timer ${e.timer}]`;
  else if (e.retransmission) text += " [resent]";
  return text;
}

/** One line of an ASCII ladder diagram: our side on the left, the peer on the right. */
export function ladderLine(e: LadderEntry, firstRemote: string): string {
  const text = ` ${label(e)} `;
  const dashes = Math.max(2, WIDTH - text.length);
  const left = Math.floor(dashes / 2);
  const right = dashes - left;
  const arrow =
    e.direction === "sent"
      ? `|${"-".repeat(left)}${text}${"-".repeat(right - 1)}>|`
      : `|<${"-".repeat(left - 1)}${text}${"-".repeat(right)}|`;
  const peer = e.remote !== firstRemote ? `  ${e.remote}` : "";
  return `${e.t.toFixed(4).padStart(10)}  ${arrow}${peer}`;
}

/** The header of a ladder: column titles over each side. */
export function ladderHeader(local: string, remote: string): string {
  const left = `us ${local}`;
  const gap = Math.max(1, WIDTH + 2 - left.length - remote.length);
  return `${"t (s)".padStart(10)}  ${left}${" ".repeat(gap)}${remote}`;
}

/** A whole ladder diagram for a call trace. */
export function renderLadder(entries: readonly LadderEntry[], local: string, remote: string): string {
  return [ladderHeader(local, remote), ...entries.map((e) => ladderLine(e, remote))].join("\n");
}
