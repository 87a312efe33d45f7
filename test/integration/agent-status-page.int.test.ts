import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentRun, agentConfig, agentLogTail, eventually, startAgent } from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ResponderRun, startResponder } from "../support/responder.js";
import { type SippRun, startSipp } from "../support/sipp.js";

// The status page as a NOC engineer sees it, rendered by a real browser: one provider path whose
// SBC answers every call with 486 (SIPp) and one that reaches the answering point.

const CHROMIUM = "/usr/bin/chromium";
const ip = uniqueLoopback();
const OK = "path-ok.test-112";
const BUSY = "path-busy.test-112";
let responder: ResponderRun;
let sbc: SippRun;
let agent: AgentRun;
let browser: BrowserContext;
let page: Page;
let dir: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "p112-status-page-"));
  const sipPort = await freePort("udp", ip);
  responder = await startResponder({
    args: ["--listen", `udp:${ip}:${sipPort}`, "--allow", `${ip}/32`, "--per-caller-per-minute", "600"],
  });
  const sbcPort = await freePort("udp", ip);
  sbc = startSipp({
    scenario: "uas-reject",
    role: "uas",
    transport: "u1",
    ip,
    port: sbcPort,
    calls: 1000,
    timeoutS: 300,
    keys: { reject_code: "486", reject_reason: "Busy Here" },
  });
  await sbc.ready;
  agent = await startAgent({
    config: agentConfig({
      ip,
      httpPort: await freePort("tcp", ip),
      paths: { "path-ok": {}, "path-busy": { proxy: `sip:${ip}:${sbcPort}` } },
      destinations: { "test-112": `sip:112@${ip}:${sipPort}` },
      check: { interval: 4, timeout: 5, hold: 0.3, media: "loopback", confirmAfter: 0.5 },
    }),
  });
  // The busy path is down once a re-probe has confirmed the failure.
  await eventually(
    async () =>
      (await agent.metric("probe112_check_up", { check: BUSY })) === 0 &&
      (await agent.metric("probe112_check_last_success_timestamp_seconds", { check: OK })) !== undefined,
    30_000,
    () => `${BUSY} down and a success of ${OK}; agent log:\n${agentLogTail(agent)}`,
  );
  browser = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
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
  const res = await page.goto(`${agent.url}/`, { waitUntil: "load" });
  expect(res?.status()).toBe(200);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  const exit = await agent?.stop();
  await sbc?.stop();
  await responder?.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(exit?.code).toBe(0);
});

const row = (check: string) => page.locator(`tr[id="check-${check}"]`);

describe("the agent's status page in Chromium", () => {
  it("names the agent and counts the checks that are down in the title and the summary", async () => {
    expect(await page.title()).toBe("probe112 test-agent: 1 down");
    expect(await page.locator("h1").textContent()).toBe("probe112 agent test-agent");
    expect(await page.locator("body > p").first().textContent()).toMatch(/2 checks · 1 down/);
  });

  it("shows one row per check: the working path ok, the busy path down with its outcome and status", async () => {
    expect(await page.locator("tbody tr").count()).toBe(2);
    expect(await row(OK).getAttribute("class")).toBe("ok");
    expect(await row(OK).locator("td.state").textContent()).toBe("ok");
    expect(await row(OK).locator("td").nth(4).textContent()).toBe("answered (200)");
    expect(await row(BUSY).getAttribute("class")).toBe("down");
    expect(await row(BUSY).locator("td.state").textContent()).toBe("down");
    expect(await row(BUSY).locator("td").nth(4).textContent()).toBe("busy (486)");
    // Runs in the page, where globalThis is the window (this project has no DOM typings).
    const color = await row(BUSY)
      .locator("td.state")
      .evaluate(
        (td) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(td)
            .color,
      );
    expect(color, "down is drawn in red").toBe("rgb(176, 0, 32)");
  });

  it("shows the SIP ladder of the failed call: the INVITE through the SBC and its 486", async () => {
    const sections = page.locator("section.failure");
    expect(await sections.count()).toBe(1);
    const failure = page.locator(`section[id="failure-${BUSY}"]`);
    expect(await failure.locator("h3").textContent()).toBe(`${BUSY}: busy`);
    const ladder = (await failure.locator("pre.ladder").textContent()) ?? "";
    expect(ladder).toMatch(/\|-+ INVITE -+>\|/);
    expect(ladder).toMatch(/\|<-+ 486 Busy Here -+\|/);
    expect(ladder).toMatch(/\|-+ ACK -+>\|/);
    expect(ladder).toContain(`${ip}:`);
  });

  it("logs no error in the browser console", () => {
    expect(consoleErrors).toEqual([]);
  });

  it("renders to a screenshot", async () => {
    const file = join(dir, "status-page.png");
    await page.screenshot({ path: file, fullPage: true });
    const png = readFileSync(file);
    expect(png.length).toBeGreaterThan(1000);
    expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  });
});
