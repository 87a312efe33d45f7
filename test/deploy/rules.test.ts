import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { allRules, DEPLOY, ROOT, RULE_TESTS_DIR, RULES_DIR, readYaml } from "./deploy-files.js";
import { tool } from "./tool.js";

// The Prometheus and Alertmanager configuration as their own tools judge it (promtool, amtool),
// each check shown to fail on a broken copy; and what the tools do not check: every alert has
// its severity, texts and runbook section, and unit tests where it fires and where it does not.

const PROM = join(DEPLOY, "prometheus");
const AM_CONFIG = join(DEPLOY, "alertmanager/alertmanager.yml");
const ruleFiles = readdirSync(RULES_DIR).map((f) => join(RULES_DIR, f));
const testFiles = readdirSync(RULE_TESTS_DIR).map((f) => join(RULE_TESTS_DIR, f));
const alerts = allRules().filter((r) => r.alert);
const scratch = mkdtempSync(join(tmpdir(), "p112-rules-"));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of deploy/prometheus in a fresh directory, to break without touching the real one. */
function copyOfPrometheusDir(name: string): string {
  const dir = join(scratch, name);
  cpSync(PROM, dir, { recursive: true });
  return dir;
}

describe("promtool and amtool", () => {
  it("promtool check rules accepts every rule file", async () => {
    const r = await tool("promtool", ["check", "rules", ...ruleFiles]);
    expect(r.output).not.toMatch(/FAILED/);
    expect(r.code, r.output).toBe(0);
    expect(r.output.match(/SUCCESS/g)).toHaveLength(ruleFiles.length);
  });

  it("promtool check rules refuses a rule file with a broken expression", async () => {
    const dir = copyOfPrometheusDir("broken-rule");
    const file = join(dir, "rules/probe112-alerts.yml");
    const doc = parse(readFileSync(file, "utf8")) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    doc.groups[0]!.rules[0]!.expr = "sum(probe112_check_up";
    writeFileSync(file, stringify(doc));
    const r = await tool("promtool", ["check", "rules", file]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/FAILED/);
  });

  it("promtool test rules passes every unit test", async () => {
    const r = await tool("promtool", ["test", "rules", ...testFiles], {
      cwd: RULE_TESTS_DIR,
      timeoutMs: 50_000,
    });
    expect(r.code, r.output).toBe(0);
    expect(r.output.match(/SUCCESS/g)).toHaveLength(testFiles.length);
  });

  it("promtool test rules fails when a test expects what the rules do not do", async () => {
    const dir = copyOfPrometheusDir("wrong-expectation");
    const file = join(dir, "tests/calls.test.yml");
    const doc = parse(readFileSync(file, "utf8")) as {
      tests: Array<{
        alert_rule_test?: Array<{ exp_alerts?: Array<{ exp_labels?: Record<string, string> }> }>;
      }>;
    };
    const firing = doc.tests
      .flatMap((t) => t.alert_rule_test ?? [])
      .find((a) => (a.exp_alerts ?? []).length > 0)!;
    firing.exp_alerts![0]!.exp_labels!.severity = "informational";
    writeFileSync(file, stringify(doc));
    const r = await tool("promtool", ["test", "rules", file], { cwd: join(dir, "tests") });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/FAILED/);
  });

  it("promtool check config accepts prometheus.yml with its rule files and target files", async () => {
    const r = await tool("promtool", ["check", "config", join(PROM, "prometheus.yml")]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \S*prometheus\.yml is valid/);
    expect(r.output).toMatch(/SUCCESS: 2 rule files found/);
  });

  it("promtool check config refuses a broken copy", async () => {
    const dir = copyOfPrometheusDir("broken-config");
    const file = join(dir, "prometheus.yml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("scrape_interval: 5s", "scrape_interval: 5 seconds"),
    );
    const r = await tool("promtool", ["check", "config", file]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/FAILED/);
  });

  it("amtool check-config accepts alertmanager.yml", async () => {
    const r = await tool("amtool", ["check-config", AM_CONFIG]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });

  it("amtool check-config refuses a route to a receiver that does not exist", async () => {
    const file = join(scratch, "alertmanager.yml");
    writeFileSync(file, readFileSync(AM_CONFIG, "utf8").replace("receiver: noc-tickets", "receiver: nobody"));
    const r = await tool("amtool", ["check-config", file]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/nobody/);
  });
});

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

describe("every alert", () => {
  const runbook = readFileSync(join(ROOT, "docs/runbook.md"), "utf8");
  const headings = [...runbook.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!);
  const anchors = new Set(headings.map(anchor));

  it("has a severity that routes, a summary, a description and a runbook URL", () => {
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(["critical", "warning"], `${a.alert} labels.severity`).toContain(a.labels?.severity);
      for (const k of ["summary", "description", "runbook_url"])
        expect(a.annotations?.[k]?.trim(), `${a.alert} annotations.${k}`).toBeTruthy();
    }
  });

  it("has its runbook section, and every alert section of the runbook has its alert", () => {
    for (const a of alerts) {
      const m = /^docs\/runbook\.md#(.+)$/.exec(a.annotations!.runbook_url!);
      expect(
        m,
        `${a.alert}: runbook_url ${a.annotations!.runbook_url} is not docs/runbook.md#…`,
      ).not.toBeNull();
      expect(anchors.has(m![1]!), `${a.alert}: no heading for #${m![1]} in docs/runbook.md`).toBe(true);
    }
    const names = new Set(alerts.map((a) => a.alert));
    for (const h of headings.filter((x) => /^Probe112/.test(x)))
      expect(names.has(h), `runbook section ${h} has no alert`).toBe(true);
  });

  it("has a unit test where it fires and one where it does not", () => {
    const fires = new Set<string>();
    const quiet = new Set<string>();
    for (const f of testFiles) {
      const doc = readYaml<{
        tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
      }>(f);
      for (const t of doc.tests)
        for (const a of t.alert_rule_test ?? [])
          ((a.exp_alerts ?? []).length > 0 ? fires : quiet).add(a.alertname);
    }
    const names = alerts.map((a) => a.alert!);
    expect(
      names.filter((n) => !fires.has(n)),
      "alerts never tested firing",
    ).toEqual([]);
    expect(
      names.filter((n) => !quiet.has(n)),
      "alerts never tested quiet",
    ).toEqual([]);
  });

  it("reaches a receiver: critical ones page, warnings make a ticket, providers hear of their own", async () => {
    for (const a of alerts) {
      // Alerts about a path or a provider carry the provider's label; the others do not.
      const ofProvider = ["path", "provider"].includes(a.labels!.scope ?? "");
      const labels = [`alertname=${a.alert}`, `severity=${a.labels!.severity}`];
      if (ofProvider) labels.push("provider=kpn");
      const r = await tool("amtool", ["config", "routes", "test", `--config.file=${AM_CONFIG}`, ...labels]);
      expect(r.code, r.output).toBe(0);
      const receivers = r.output
        .split("\n")
        .find((l) => !l.startsWith("Warning"))!
        .split(",");
      if (a.labels!.severity === "critical")
        expect(
          receivers.some((x) => x === "noc-pager" || x === "national-crisis"),
          `${a.alert}: ${receivers}`,
        ).toBe(true);
      else expect(receivers, a.alert).toContain("noc-tickets");
      if (ofProvider) expect(receivers, a.alert).toContain("provider-kpn");
      else expect(receivers, a.alert).not.toContain("provider-kpn");
    }
  });

  it("is the only kind of alert Alertmanager's routes and inhibitions name", () => {
    const names = new Set(alerts.map((a) => a.alert));
    const text = readFileSync(AM_CONFIG, "utf8");
    const named = [...text.matchAll(/alertname\s*!?=~?\s*\\?"([A-Za-z0-9|]+)\\?"/g)].flatMap((m) =>
      m[1]!.split("|"),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const n of named)
      expect(names.has(n), `alertmanager.yml names ${n}, which no rule defines`).toBe(true);
  });
});
