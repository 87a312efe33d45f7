import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ReportModel } from "../../src/report/model.js";
import { spawnManaged } from "../support/process.js";

export interface ReportRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The file written with --out, when it exists. */
  readonly file: string | undefined;
  /** The model, when the run wrote JSON with --out. */
  readonly model: ReportModel | undefined;
}

/** The built CLI (test/support/global-build.ts compiles it once per run). */
const CLI = resolve(import.meta.dirname, "../../bin/probe112.js");

let runs = 0;

/**
 * Runs the built `probe112 report` (bin/probe112.js, compiled by the global setup) with `args`,
 * writing `--format` to a new file in `dir`; the JSON model is parsed when the format is json.
 */
export async function runReport(
  dir: string,
  args: readonly string[],
  format: "json" | "html" | "csv" = "json",
): Promise<ReportRun> {
  const file = join(dir, `report-${++runs}.${format}`);
  const proc = spawnManaged(
    process.execPath,
    [CLI, "report", "--format", format, "--out", file, "--log-format", "json", ...args],
    { name: "probe112 report" },
  );
  const r = await proc.exited;
  const written = existsSync(file);
  return {
    code: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
    file: written ? file : undefined,
    model: written && format === "json" ? (JSON.parse(readFileSync(file, "utf8")) as ReportModel) : undefined,
  };
}

/** The problems the run printed on stderr ("probe112 report: …" lines), progress logs left out. */
export function printedProblems(r: ReportRun): string[] {
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("probe112 report: "))
    .map((l) => l.slice("probe112 report: ".length));
}

/** The visible text of an HTML report: no style sheet, no SVG, no tags. */
export function htmlText(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/g, " ")
    .replace(/<svg[\s\S]*?<\/svg>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, " ");
}
