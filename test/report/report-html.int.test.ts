import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTsdb, startPrometheusOnTsdb, type TsdbPrometheus } from "../support/tsdb.js";
import { runReport } from "./run-report.js";
import { mainDay } from "./scenario.js";

// The HTML report as the regulator opens and prints it: rendered by a real Chromium from the
// file the CLI wrote for the main day of scenario.ts.

const CHROMIUM = "/usr/bin/chromium";
/** CSS pixels per millimetre (96 dpi). */
const PX_PER_MM = 96 / 25.4;
let prom: TsdbPrometheus;
let browser: BrowserContext;
let page: Page;
let dir: string;
let file: string;
const consoleErrors: string[] = [];

// page.evaluate runs its function in the browser (globalThis is the window there, and nothing of
// this module is in scope); this project has no DOM typings, hence these few.
type El = {
  getBoundingClientRect(): { width: number; height: number };
  textContent: string | null;
  getAttribute(n: string): string | null;
};
type Doc = {
  querySelectorAll(s: string): Iterable<El>;
  documentElement: { scrollWidth: number };
  styleSheets: Iterable<{ cssRules: Iterable<{ constructor: { name: string }; style?: unknown }> }>;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "p112-report-html-"));
  prom = await startPrometheusOnTsdb(await createTsdb(mainDay().toFamilies()));
  const r = await runReport(
    dir,
    [
      "--prometheus",
      prom.url,
      "--from",
      "2026-06-01T07:00Z",
      "--to",
      "2026-06-01T13:00Z",
      "--users",
      "kpn=5600000",
      "--users",
      "vodafone=5000000",
      "--users",
      "tmobile=4000000",
    ],
    "html",
  );
  expect(r.code, r.stderr).toBe(0);
  file = r.file!;
  browser = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  page.on("requestfailed", (r) => consoleErrors.push(`request failed: ${r.url()}`));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the compliance report in Chromium", () => {
  it("loads with no console error and takes a full-page screenshot", async () => {
    expect(await page.title()).toBe("probe112 compliance report");
    const png = join(dir, "report.png");
    await page.screenshot({ path: png, fullPage: true });
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    // IHDR: width and height, big-endian, at bytes 16–23.
    expect(bytes.readUInt32BE(16)).toBe(1280);
    expect(bytes.readUInt32BE(20)).toBeGreaterThan(1500);
    expect(statSync(png).size).toBeGreaterThan(50_000);
    expect(consoleErrors).toEqual([]);
  });

  it("draws both SVG charts: two availability bars per group, the failures in red on the timeline", async () => {
    const charts = await page.evaluate(() =>
      [...(globalThis as unknown as { document: Doc }).document.querySelectorAll("svg")].map((s) => {
        const box = s.getBoundingClientRect();
        return {
          label: s.getAttribute("aria-label") ?? "",
          width: box.width,
          height: box.height,
          bars: [...(s as unknown as Doc).querySelectorAll("rect")].map((r) => r.getAttribute("fill")),
        };
      }),
    );
    expect(charts).toHaveLength(2);
    const [availability, timeline] = charts as [(typeof charts)[0], (typeof charts)[0]];
    expect(availability.label).toMatch(/^Availability per provider/);
    expect(timeline.label).toBe("Availability over time per check");
    for (const c of charts) {
      expect(c.width).toBeGreaterThan(600);
      expect(c.height).toBeGreaterThan(80);
    }
    // 4 groups × (time-based, call-based).
    expect(availability.bars.filter((f) => f === "#1565c0" || f === "#90caf9")).toHaveLength(8);
    // kpn-mobile, tmobile-mobile and vodafone-voip each failed once (plus two incident bands).
    expect(timeline.bars.filter((f) => f === "#c62828").length).toBeGreaterThanOrEqual(3 + 2);
    // vodafone's scrape gap is drawn as "no data".
    expect(timeline.bars).toContain("#bdbdbd");
  });

  it("shows the hand-computed figures in the table cells", async () => {
    const row = page.locator("table").first().locator("tr", { hasText: "kpn-ams-1" }).first();
    await expect.poll(() => row.isVisible()).toBe(true);
    const cells = await row.locator("td").allTextContents();
    // kpn mobile: 334 of 359 scheduled calls answered (93.036 %), 20 400 of 21 600 s up (94.444 %).
    expect(cells.slice(0, 2)).toEqual(["kpn", "mobile"]);
    expect(cells).toEqual(expect.arrayContaining(["334 / 359", "93.036%", "94.444%", "2.950 s"]));
    const incidents = await page.locator("h2:has-text('Incidents') + table tbody tr").allTextContents();
    expect(incidents).toHaveLength(2);
    expect(incidents[1]).toContain("several providers");
    expect(incidents[1]).toContain("3,400,000");
  });

  it("labels the time axis in the report's time zone, like every other time on the page", async () => {
    // The period is 09:00–15:00 CEST (07:00–13:00Z); hourly ticks must read 09:00 … 15:00.
    const ticks = await page.evaluate(() => {
      const svg = [...(globalThis as unknown as { document: Doc }).document.querySelectorAll("svg")][1];
      return [...(svg as unknown as Doc).querySelectorAll("text")]
        .map((t) => t.textContent ?? "")
        .filter((t) => /^\d{2}-\d{2} \d{2}:\d{2}/.test(t));
    });
    expect(ticks[0]).toMatch(/^06-01 09:00/);
    expect(ticks.some((t) => /^06-01 12:00/.test(t))).toBe(true);
  });

  it("does not style the absence of journals as intact evidence", async () => {
    const verdict = page.locator(".verdict").first();
    expect(await verdict.textContent()).toMatch(/^No journals were given/);
    expect(await verdict.getAttribute("class")).not.toMatch(/\bok\b/);
  });

  it("prints: print styles apply, every table and chart fits the paper's width, and a PDF comes out", async () => {
    await page.emulateMedia({ media: "print" });
    // The paper the style sheet asks for (@page size), A4 portrait without one.
    const pageRule = await page.evaluate(() => {
      for (const s of (globalThis as unknown as { document: Doc }).document.styleSheets)
        for (const r of s.cssRules)
          if (r.constructor.name === "CSSPageRule") {
            const st = r.style as { getPropertyValue(p: string): string };
            return { size: st.getPropertyValue("size"), margin: st.getPropertyValue("margin-left") };
          }
      return { size: "", margin: "" };
    });
    const landscape = /landscape/.test(pageRule.size);
    const marginMm = /mm$/.test(pageRule.margin) ? Number.parseFloat(pageRule.margin) : 0;
    const printable = Math.floor(((landscape ? 297 : 210) - 2 * marginMm) * PX_PER_MM);
    await page.setViewportSize({ width: printable, height: 1000 });
    const width = await page.evaluate(
      () => (globalThis as unknown as { document: Doc }).document.documentElement.scrollWidth,
    );
    expect(width, `content ${width}px wide on paper ${printable}px wide`).toBeLessThanOrEqual(printable);
    const pdf = join(dir, "report.pdf");
    await page.pdf({ path: pdf, preferCSSPageSize: true, printBackground: true });
    const head = readFileSync(pdf).subarray(0, 5).toString("latin1");
    expect(head).toBe("%PDF-");
    expect(statSync(pdf).size).toBeGreaterThan(10_000);
    expect(consoleErrors).toEqual([]);
  });
});
