// Just enough PromQL lexing to name the metrics and label matchers an expression uses. Whether
// an expression parses at all is left to a real Prometheus; this only has to be right about
// expressions that parse.

/** A vector selector of an expression: the metric it names and the labels it matches on. */
export interface Selector {
  readonly name: string;
  readonly labels: readonly string[];
}

type Token = { kind: "ident" | "string" | "number" | "punct"; text: string };

/** Aggregation operators, binary operators and modifiers: identifiers that are never metrics. */
const KEYWORDS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "and",
  "or",
  "unless",
  "atan2",
  "inf",
  "nan",
]);

/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

const PUNCT = [
  "=~",
  "!~",
  "!=",
  "==",
  ">=",
  "<=",
  "(",
  ")",
  "{",
  "}",
  ",",
  "=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  ">",
  "<",
  "@",
];

function lex(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      let text = "";
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === "\\" && c !== "`") j++;
        text += expr[j] ?? "";
        j++;
      }
      out.push({ kind: "string", text });
      i = j + 1;
    } else if (c === "[") {
      // Ranges and subqueries hold durations only.
      const j = expr.indexOf("]", i);
      i = j < 0 ? expr.length : j + 1;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))!;
      out.push({ kind: "ident", text: m[0] });
      i += m[0].length;
    } else if (/[0-9.]/.test(c)) {
      // Numbers and durations (5m, 1h30m, 1e3, 0x1f) alike.
      const m = /^[0-9.]+(?:[eE][+-]?[0-9]+)?[a-zA-Z0-9]*/.exec(expr.slice(i))!;
      out.push({ kind: "number", text: m[0] });
      i += m[0].length;
    } else {
      const p = PUNCT.find((x) => expr.startsWith(x, i));
      if (!p) throw new Error(`unexpected character ${JSON.stringify(c)} at ${i} in: ${expr}`);
      out.push({ kind: "punct", text: p });
      i += p.length;
    }
  }
  return out;
}

/** Every vector selector in a PromQL expression, with the label names it matches on. */
export function selectors(expr: string): Selector[] {
  const t = lex(expr);
  const out: Selector[] = [];
  const matchers = (from: number): { labels: string[]; name?: string; end: number } => {
    const labels: string[] = [];
    let name: string | undefined;
    let i = from + 1;
    while (i < t.length && t[i]!.text !== "}") {
      const tok = t[i]!;
      if (tok.kind === "ident" || tok.kind === "string") {
        if (tok.text === "__name__") name = t[i + 2]?.text;
        else labels.push(tok.text);
        i += 3; // label, operator, value
      } else {
        i++;
      }
    }
    return { labels, name, end: i };
  };
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    const next = t[i + 1];
    if (tok.kind === "ident" && LABEL_LIST.has(tok.text) && next?.text === "(") {
      while (i < t.length && t[i]!.text !== ")") i++;
      continue;
    }
    if (tok.kind === "ident" && !KEYWORDS.has(tok.text) && next?.text !== "(") {
      if (next?.text === "{") {
        const m = matchers(i + 1);
        out.push({ name: tok.text, labels: m.labels });
        i = m.end;
      } else {
        out.push({ name: tok.text, labels: [] });
      }
      continue;
    }
    if (tok.text === "{") {
      // A selector without a metric name in front: {__name__="x", …}.
      const m = matchers(i);
      if (m.name) out.push({ name: m.name, labels: m.labels });
      i = m.end;
    }
  }
  return out;
}

/** The metric names a PromQL expression reads. */
export function metricNames(expr: string): string[] {
  return [...new Set(selectors(expr).map((s) => s.name))].sort();
}

/**
 * Metric names a /metrics text defines: every `# TYPE` (a counter, gauge or histogram with no
 * sample yet still counts) with the series names its type implies, and every sample name.
 */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name!);
      if (kind === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(`${name}${s}`);
      if (kind === "summary") for (const s of ["_sum", "_count"]) names.add(`${name}${s}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (sample) names.add(sample[1]!);
  }
  return names;
}

/** The label names each metric's samples carry in a /metrics text. */
export function exportedLabels(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) continue;
    const set = out.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) set.add(l[1]!);
    out.set(m[1]!, set);
  }
  return out;
}
