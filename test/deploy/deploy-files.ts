import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import {
  allPanels,
  type Dashboard,
  substituteVariables,
  type Variable,
  variablePromql,
  variableQuery,
} from "./grafana.js";

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, "../..");
/** deploy/ in the repository. */
export const DEPLOY = join(ROOT, "deploy");
export const RULES_DIR = join(DEPLOY, "prometheus/rules");
export const RULE_TESTS_DIR = join(DEPLOY, "prometheus/tests");
export const DASHBOARDS_DIR = join(DEPLOY, "grafana/dashboards");

/** One alerting or recording rule. */
export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A rule file, parsed. */
export interface RuleFile {
  file: string;
  groups: Array<{ name: string; rules: Rule[] }>;
}

/** Reads a YAML file; `merge` applies `<<:` merge keys, as docker compose does. */
export function readYaml<T = unknown>(file: string, options: { merge?: boolean } = {}): T {
  return parse(readFileSync(file, "utf8"), { merge: options.merge ?? false }) as T;
}

/** Every rule file in deploy/prometheus/rules. */
export function loadRuleFiles(): RuleFile[] {
  return readdirSync(RULES_DIR)
    .filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ ...readYaml<Omit<RuleFile, "file">>(join(RULES_DIR, f)), file: f }));
}

/** Every rule of every rule file, with where it is. */
export function allRules(): Array<Rule & { where: string }> {
  return loadRuleFiles().flatMap((f) =>
    f.groups.flatMap((g) =>
      g.rules.map((r) => ({ ...r, where: `${f.file} ${g.name} ${r.alert ?? r.record}` })),
    ),
  );
}

/** The series names the recording rules create. */
export function recordedNames(): Set<string> {
  return new Set(allRules().flatMap((r) => (r.record ? [r.record] : [])));
}

/** A PromQL expression and where it was found. */
export interface Expression {
  readonly where: string;
  /** As written, Grafana variables included. */
  readonly raw: string;
  /** Ready for Prometheus: Grafana variables replaced by values. */
  readonly expr: string;
}

/** Every PromQL expression of a dashboard: panel targets, variable queries, annotation queries. */
export function dashboardExpressions(d: Dashboard): Expression[] {
  const vars: Variable[] = d.templating?.list ?? [];
  const out: Expression[] = [];
  const add = (where: string, raw: string) =>
    out.push({ where: `${d.file}: ${where}`, raw, expr: substituteVariables(raw, vars) });
  for (const p of allPanels(d)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr === "string") add(`panel ${p.id} "${p.title}" target ${t.refId}`, t.expr);
    }
  }
  for (const v of vars) {
    if (v.type !== "query") continue;
    const promql = variablePromql(variableQuery(v));
    if (promql !== undefined) add(`variable ${v.name}`, promql);
  }
  const annotations = (d.annotations as { list?: Array<{ name?: string; expr?: string }> } | undefined)?.list;
  for (const a of annotations ?? []) if (a.expr) add(`annotation "${a.name}"`, a.expr);
  return out;
}

/** Every expression of every rule. */
export function ruleExpressions(): Expression[] {
  return allRules().map((r) => ({ where: r.where, raw: r.expr, expr: r.expr }));
}
