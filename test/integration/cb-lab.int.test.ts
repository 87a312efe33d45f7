import { afterEach, describe, expect, it } from "vitest";
import { encodeCbsPages } from "../../src/cellbroadcast/cbs-encode.js";
import { runCli } from "../support/call.js";
import { type EcbeCreate, type EcbeServer, startEcbeServer } from "../support/ecbe-server.js";
import { type PtyPair, startPtyPair } from "../support/pty-pair.js";
import { openSimModem, type SimModem } from "../support/sim-modem.js";

// `probe112 cb lab` end to end: the real binary, two simulated modems on pseudo-terminals, and —
// because osmo-cbc cannot be installed here (not in Debian, no network) — a small HTTP server that
// implements its two ECBE endpoints with osmo-cbc's status codes (test/support/ecbe-server.ts).
// That server is the only mock; it also plays the radio network: after a delay per modem it makes
// each simulated modem emit the broadcast's pages as +CBM URCs.

const TEXT =
  "probe112 lab test: een testbericht op kanaal 4398, meer dan één pagina lang zodat de paginering en het samenvoegen ook getest worden. Einde.";

let ptys: PtyPair[] = [];
let sims: SimModem[] = [];
let cbc: EcbeServer | undefined;
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearTimeout(t);
  for (const s of sims) s.close();
  for (const p of ptys) await p.close();
  await cbc?.close();
  ptys = [];
  sims = [];
  cbc = undefined;
});

async function modems(n: number) {
  for (let i = 0; i < n; i++) {
    const p = await startPtyPair(`lab${i}`);
    ptys.push(p);
    sims.push(openSimModem(p.modem));
  }
}

/** The network: each modem gets the pages after its own delay; the second one LTE-style (short last page). */
function radio(delaysMs: number[]) {
  return (m: EcbeCreate) => {
    const dcs = m.characterSet === "ucs2" ? 0x48 : m.language === "nl" ? 0x05 : 0x0f;
    delaysMs.forEach((delay, i) => {
      const pages = encodeCbsPages({
        messageIdentifier: m.messageId,
        serialNumber: m.serialNumber,
        dcs,
        text: m.text,
        shortLastPage: i === 1,
      });
      timers.push(
        setTimeout(() => {
          for (const p of pages) sims[i]?.cbm(p);
        }, delay),
      );
    });
  };
}

describe("probe112 cb lab", () => {
  it("times the broadcast at every modem from the POST, then withdraws it", async () => {
    await modems(2);
    cbc = await startEcbeServer(radio([200, 600]));
    const r = await runCli([
      "cb",
      "lab",
      "--cbc",
      cbc.url,
      "--device",
      ptys[0]!.host,
      "--device",
      ptys[1]!.host,
      "--channel",
      "4398",
      "--text",
      TEXT,
      "--language",
      "nl",
      "--message-code",
      "321",
      "--wait",
      "20",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      channel: 4398,
      messageCode: 321,
      createStatus: 201,
      deleteStatus: 200,
      error: null,
      success: true,
    });
    const [a, b] = j.devices;
    expect(a).toMatchObject({
      device: ptys[0]!.host,
      ready: true,
      received: true,
      pages: 2,
      text: TEXT,
      textMatches: true,
    });
    expect(b).toMatchObject({
      device: ptys[1]!.host,
      ready: true,
      received: true,
      pages: 2,
      textMatches: true,
    });
    expect(a.firstPageSeconds).toBeGreaterThanOrEqual(0.2);
    expect(a.firstPageSeconds).toBeLessThan(5);
    expect(b.firstPageSeconds).toBeGreaterThanOrEqual(0.6);
    expect(b.completeSeconds).toBeGreaterThanOrEqual(b.firstPageSeconds);
    expect(b.firstPageSeconds - a.firstPageSeconds).toBeGreaterThan(0.2);
    expect(cbc.requests.map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual([
      "POST /api/ecbe/v1/message 201",
      "DELETE /api/ecbe/v1/message/4398 200",
    ]);
    expect(cbc.active.size).toBe(0);
    // Both modems listened on the lab channel only.
    for (const s of sims) expect(s.commands).toContain('AT+CSCB=0,"4398",""');
  });

  it("a channel the CBC already broadcasts on: 409 reported, exit 1, nothing withdrawn", async () => {
    await modems(1);
    cbc = await startEcbeServer(() => {});
    const first = await fetch(`${cbc.url}/api/ecbe/v1/message`, {
      method: "POST",
      body: JSON.stringify({
        cbe_name: "other",
        repetition_period: 5,
        scope: { scope_plmn: {} },
        smscb_message: {
          message_id: 4398,
          serial_nr: { serial_nr_encoded: 1 },
          payload: { payload_decoded: { character_set: "gsm", data_utf8: "x" } },
        },
      }),
    });
    expect(first.status).toBe(201);
    const r = await runCli([
      "cb",
      "lab",
      "--cbc",
      cbc.url,
      "--device",
      ptys[0]!.host,
      "--text",
      "hello",
      "--wait",
      "2",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}lab broadcast on 4398/);
    expect(r.stdout).toMatch(/creating message 4398: HTTP 409 Could not allocate/);
    expect(cbc.active.has(4398)).toBe(true);
    expect(cbc.requests.filter((q) => q.method === "DELETE")).toEqual([]);
  });

  it("a modem that never receives it: exit 1, not received, still withdrawn", async () => {
    await modems(2);
    cbc = await startEcbeServer(radio([100])); // the second modem hears nothing
    const r = await runCli([
      "cb",
      "lab",
      "--cbc",
      cbc.url,
      "--device",
      ptys[0]!.host,
      "--device",
      ptys[1]!.host,
      "--text",
      "hello",
      "--wait",
      "2",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`${ptys[0]!.host}: first page [\\d.]+ s, complete [\\d.]+ s after the POST \\(1 page\\)`),
    );
    expect(r.stdout).toContain(`${ptys[1]!.host}: not received`);
    expect(r.stdout).toContain("withdrawn: DELETE answered 200");
    expect(cbc.active.size).toBe(0);
  });

  it("a CBC that is not there: reported, exit 1", async () => {
    await modems(1);
    const r = await runCli([
      "cb",
      "lab",
      "--cbc",
      "http://127.0.0.1:9",
      "--device",
      ptys[0]!.host,
      "--text",
      "hello",
      "--wait",
      "1",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/the CBC cannot be reached/);
  });
});
