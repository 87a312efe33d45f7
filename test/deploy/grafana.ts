import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** A Grafana panel as it is stored in dashboard JSON (the parts the tests read). */
export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string } | null;
  targets?: Array<{ refId?: string; expr?: string; datasource?: { type?: string; uid?: string } }>;
  panels?: Panel[];
  gridPos?: { h: number; w: number; x: number; y: number };
  [key: string]: unknown;
}

/** A template variable. */
export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  options?: Array<{ value: string }>;
  current?: { value?: string | string[] };
  datasource?: { type?: string; uid?: string } | null;
  [key: string]: unknown;
}

/** A dashboard file. */
export interface Dashboard {
  file: string;
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Variable[] };
  [key: string]: unknown;
}

/** Every dashboard JSON file in `dir`, parsed. */
export function loadDashboards(dir: string): Dashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ ...(JSON.parse(readFileSync(join(dir, f), "utf8")) as object), file: f }));
}

/** Every panel of a dashboard, those inside (collapsed) rows included. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: Panel[] | undefined) => {
    for (const p of ps ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** Panels that only arrange or explain, and query nothing. */
export const LAYOUT_PANELS = new Set(["row", "text", "dashlist", "news"]);

/** Grafana's own variables, which need no definition in the dashboard. */
const BUILTIN = new Set([
  "__rate_interval",
  "__interval",
  "__interval_ms",
  "__range",
  "__range_s",
  "__range_ms",
  "__from",
  "__to",
  "__dashboard",
  "__user",
  "__org",
  "__name",
  "__field",
  "__value",
  "__series",
  "__data",
  "__url_time_range",
  "__all_variables",
  "__all",
  "timeFilter",
]);

/** Names of the variables a string refers to ($x, ${x}, ${x:fmt}, [[x]]), Grafana's own left out. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(
    /\$\{([a-zA-Z0-9_]+)(?:[.:][^}]*)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)(?::[^\]]*)?\]\]/g,
  )) {
    const name = m[1] ?? m[2] ?? m[3]!;
    if (!BUILTIN.has(name)) names.add(name);
  }
  return [...names];
}

/** Every string anywhere in a JSON value. */
export function allStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(allStrings);
  if (v && typeof v === "object") return Object.values(v).flatMap(allStrings);
  return [];
}

/** The query text of a template variable, whichever form it is stored in. */
export function variableQuery(v: Variable): string {
  if (typeof v.query === "string") return v.query;
  return v.query?.query ?? v.definition ?? "";
}

/**
 * The PromQL inside a Prometheus variable query: label_values(SELECTOR, label) gives SELECTOR,
 * query_result(EXPR) gives EXPR; label_values(label) and label_names() have none.
 */
export function variablePromql(query: string): string | undefined {
  const q = query.trim();
  const lv = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/s.exec(q);
  if (lv) return lv[1]!.trim();
  const qr = /^query_result\((.*)\)$/s.exec(q);
  if (qr) return qr[1]!.trim();
  return undefined;
}

/**
 * Replaces Grafana's variables in an expression by concrete values, as Grafana would before
 * sending it: intervals by durations, the dashboard's own variables by a value they can take.
 */
export function substituteVariables(expr: string, vars: readonly Variable[]): string {
  const value = (name: string): string => {
    const builtin: Record<string, string> = {
      __rate_interval: "1m",
      __interval: "30s",
      __range: "6h",
      __interval_ms: "30000",
      __range_s: "21600",
      __range_ms: "21600000",
    };
    if (name in builtin) return builtin[name]!;
    const v = vars.find((x) => x.name === name);
    if (!v) return `$${name}`; // left in place: the caller sees an unresolved variable
    if (v.type === "custom" || v.type === "interval") {
      const first = v.options?.[0]?.value ?? variableQuery(v).split(",")[0]?.trim();
      if (first) return first;
    }
    if (v.type === "constant" || v.type === "textbox") return variableQuery(v);
    // Query variables hold label values; any value is valid PromQL where a label value goes.
    return "example";
  };
  return expr.replace(
    /\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)(?::[^\]]*)?\]\]/g,
    (_, a, b, c) => value(a ?? b ?? c),
  );
}
