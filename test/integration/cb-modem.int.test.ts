import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NL_2023, NL_2023_TEXTS } from "../cellbroadcast/vectors.js";
import { ProbeHarness, testModem } from "../support/cb-probe.js";
import { type PtyPair, startPtyPair } from "../support/pty-pair.js";
import { openSimModem, type SimModem } from "../support/sim-modem.js";

// The modem driver and the cell-broadcast probe against a pseudo-terminal pair (socat), with a
// simulated modem on the other end that answers AT commands and emits the real NL-Alert PDUs.

const NL_TEXT = NL_2023_TEXTS.join("");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const counted = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 100 });

let pty: PtyPair | undefined;
let sim: SimModem | undefined;
let harness: ProbeHarness | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await harness?.stop();
  sim?.close();
  await pty?.close();
  harness = undefined;
  sim = undefined;
  pty = undefined;
});

async function setup(options: Parameters<typeof openSimModem>[1] = {}, modem = {}) {
  pty = await startPtyPair();
  sim = openSimModem(pty.modem, options);
  harness = new ProbeHarness(testModem(pty.host, modem)).start();
  return { pty, sim, harness };
}

describe("modem driver over a pty", () => {
  it("serialport's native binding is the prebuilt one (npm 11 withholds install scripts; nothing is compiled)", async () => {
    const { harness } = await setup();
    await harness.healthy();
    const maps = readFileSync("/proc/self/maps", "utf8");
    expect(maps).toMatch(
      /@serialport\/bindings-cpp\/prebuilds\/linux-[a-z0-9]+\/@serialport\+bindings-cpp\.(glibc|musl)\.node/,
    );
    expect(maps).not.toMatch(/bindings-cpp\/build\/Release/);
  });

  it("runs the init sequence: CSCB clear-first, the DCS-list fallback, verification, CNMI fallback", async () => {
    const { sim, harness } = await setup({ rejectEmptyDcsList: true, refuseCnmi: ["2,0,2,0,0"] });
    const h = await harness.healthy();
    const wanted = [
      "AT",
      "ATE0",
      "AT+CMEE=1",
      "AT+CMGF=0",
      "AT+CREG=2",
      "AT+CEREG=2",
      "AT+COPS=3,2",
      "AT+CSCB=1",
      'AT+CSCB=0,"919,4352-4356,4370-4400,6400",""',
      'AT+CSCB=0,"919,4352-4356,4370-4400,6400","0-255"',
      "AT+CSCB?",
      "AT+CREG?",
      "AT+CEREG?",
      "AT+COPS?",
      "AT+CNMI=2,0,2,0,0",
      "AT+CNMI=2,1,2,2,0",
      "AT+CREG?",
      "AT+CEREG?",
      "AT+COPS?",
      "AT+CSQ",
      "AT+CSCB?",
    ];
    expect(sim.commands.slice(0, wanted.length)).toEqual(wanted);
    expect(sim.cnmi).toBe("2,1,2,2,0");
    expect(h.success).toBe(true);
    expect(h.health).toMatchObject({
      connected: true,
      initialised: true,
      registered: true,
      plmn: "20408",
      plmnOk: true,
      rat: "lte",
      signalDbm: -71,
      subscriptionOk: true,
      subscription: { mode: 0, mids: "919,4352-4356,4370-4400,6400", dcss: "0-255" },
      messageMode: "pdu",
      cnmi: "2,1,2,2,0",
    });
    expect(h.health.registration.eps).toMatchObject({ stat: 1, area: "1A2B", cell: "01C3D4E5", act: 7 });
  });

  it("a modem that answers ERROR to every AT+CSCB: reported unsubscribed, and subscribed once it accepts", async () => {
    const { sim, harness } = await setup({ rejectCscb: true });
    const bad = await harness.waitFor(
      (r) => r.event === "health" && r.health.initialised && !r.health.subscriptionOk,
    );
    expect(bad.success).toBe(false);
    sim.options.rejectCscb = false;
    const from = harness.results.length;
    const good = await harness.healthy(from);
    expect(good.success).toBe(true);
    expect(sim.cscb.mids).toBe("919,4352-4356,4370-4400,6400");
  });

  it("receives the three-page NL test split across reads, with garbage and half lines in between", async () => {
    const { sim, harness } = await setup();
    await harness.healthy();
    const stream = [
      "\r\nPB DONE\r\n",
      "\x00\xff\xfe\x13 noise\r\n",
      ...NL_2023.flatMap((pdu, i) => [
        `\r\n+CBM: ${pdu.length / 2}\r\n${pdu}\r\n`,
        i === 0 ? "+CB" : "", // half a line, ended by the next URC's CR LF
        i === 1 ? "\r\n\x1b[garbage\r\n" : "",
      ]),
    ].join("");
    // Cut everything into chunks of 1–23 bytes written one by one.
    for (let at = 0, n = 1; at < stream.length; at += n, n = (n * 7 + 3) % 23 || 1) {
      sim.raw(stream.slice(at, at + n));
      await sleep(1);
    }
    const r = await harness.waitFor((x) => x.event === "broadcast");
    expect(r.event === "broadcast" && r.broadcast).toMatchObject({
      status: "complete",
      kind: "nl_test",
      messageIdentifier: 4371,
      serialNumber: { raw: 0x46a0, geographicalScope: 1, messageCode: 106, updateNumber: 0 },
      dcs: 5,
      language: "nl",
      pages: 3,
      pagesReceived: [1, 2, 3],
      text: NL_TEXT,
      firstCopy: true,
      textTime: "2023-12-04T11:00:00.000Z",
    });
    // Counts ride on the next result (a health check): wait for them.
    await counted(() => {
      expect(harness.total("pages", "4371")).toBe(3);
      expect(harness.total("lineFaults", "binary")).toBe(2);
      expect(harness.total("lineFaults", "unexpected")).toBe(1); // "+CB"
    });
    expect(harness.of("broadcast")).toHaveLength(1);
    expect(harness.total("decodeErrors")).toBe(0);
  });

  it("repetitions are counted, not reported again", async () => {
    const { sim, harness } = await setup();
    await harness.healthy();
    for (let round = 0; round < 3; round++) for (const pdu of NL_2023) sim.cbm(pdu);
    await harness.waitFor((x) => x.event === "broadcast");
    await counted(() => {
      expect(harness.total("pages", "4371")).toBe(9);
      expect(harness.total("duplicatePages", "4371")).toBe(6);
    });
    expect(harness.of("broadcast")).toHaveLength(1);
  });

  it("a PDU whose length disagrees with +CBM, one that is not hex, one with an unknown DCS: counted, the first decoded anyway", async () => {
    const { sim, harness } = await setup();
    await harness.healthy();
    sim.cbm(NL_2023[2], 88); // the 65-octet page announced as 88
    sim.cbm("46A0111305ZZ");
    sim.cbm(`46A0111394${"13"}${"41".repeat(20)}`);
    await counted(() => {
      expect(harness.total("decodeErrors", "length")).toBe(1);
      expect(harness.total("decodeErrors", "hex")).toBe(1);
      expect(harness.total("decodeErrors", "dcs")).toBe(1);
      expect(harness.total("pages", "4371")).toBe(1);
    });
    // The modem goes on working.
    sim.cbm(
      "0010111c0011cd309aad2fa7e9a146a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d168341a8d46a3d100",
    );
    const r = await harness.waitFor((x) => x.event === "broadcast" && x.broadcast.messageIdentifier === 4380);
    expect(r.event === "broadcast" && [r.broadcast.kind, r.broadcast.text]).toEqual(["test", "Mahlzeit!"]);
  });

  it("a missing page: incomplete after the assembly timeout, with the pages seen (fake timers)", async () => {
    const { sim, harness } = await setup({}, { healthInterval: 600 });
    await harness.healthy();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], shouldAdvanceTime: true });
    sim.cbm(NL_2023[0]);
    sim.cbm(NL_2023[2]);
    await sleep(300);
    expect(harness.of("broadcast")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(301_000);
    const r = await harness.waitFor((x) => x.event === "broadcast", 5000);
    expect(r.event === "broadcast" && r.broadcast).toMatchObject({
      status: "incomplete",
      kind: "nl_test",
      pages: 3,
      pagesReceived: [1, 3],
      text: `${NL_2023_TEXTS[0]}[page 2 missing]${NL_2023_TEXTS[2]}`,
    });
    expect(r.success).toBe(false);
  });

  it("the port disappears and returns: the driver reconnects and initialises again by itself", async () => {
    const { pty, sim, harness } = await setup();
    await harness.healthy();
    await pty.unplug();
    const down = await harness.waitFor((r) => r.event === "link" && !r.link.up);
    expect(down.success).toBe(false);
    await sleep(500); // retries against a path that is not there
    await pty.plug();
    const before = sim.commands.length;
    sim.open();
    const up = harness.results.length;
    await harness.waitFor((r) => r.event === "link" && r.link.up, 10_000, up);
    await sim.waitForCommand(/^AT\+CNMI=2,0,2,0,0$/, 10_000, before);
    await harness.healthy(up);
    sim.cbm(NL_2023[0]);
    sim.cbm(NL_2023[1]);
    sim.cbm(NL_2023[2]);
    const r = await harness.waitFor((x) => x.event === "broadcast");
    expect(r.event === "broadcast" && r.broadcast.text).toBe(NL_TEXT);
  });

  it("a modem that refuses PDU mode: text mode, and text-mode +CBM pages reassembled", async () => {
    const { sim, harness } = await setup({ refusePduMode: true });
    const h = await harness.healthy();
    expect(h.health.messageMode).toBe("text");
    expect(sim.commands).toContain("AT+CMGF=1");
    NL_2023_TEXTS.forEach((text, i) => {
      sim.urc(`+CBM: 18080,4371,5,${i + 1},3`, text);
    });
    const r = await harness.waitFor((x) => x.event === "broadcast");
    expect(r.event === "broadcast" && r.broadcast).toMatchObject({
      status: "complete",
      kind: "nl_test",
      serialNumber: { raw: 18080, messageCode: 106 },
      language: "nl",
      text: NL_TEXT,
    });
  });

  it("an unregistered modem is reported unhealthy, and healthy once it registers", async () => {
    const { sim, harness } = await setup({ registered: false });
    const bad = await harness.waitFor((r) => r.event === "health" && r.health.initialised);
    expect(bad.event === "health" && [bad.success, bad.health.registered, bad.health.plmn]).toEqual([
      false,
      false,
      "",
    ]);
    sim.options.registered = true;
    await harness.healthy(harness.results.length);
    expect(harness.results.at(-1)!.success).toBe(true);
  });

  it("a modem reset (RDY) makes the driver initialise again", async () => {
    const { sim, harness } = await setup();
    await harness.healthy();
    const before = sim.commands.length;
    sim.echo = true;
    sim.cscb = { mode: 0, mids: "", dcss: "" };
    sim.urc("RDY");
    await sim.waitForCommand(/^ATE0$/, 5000, before);
    await harness.healthy(harness.results.length);
    expect(sim.cscb.mids).toBe("919,4352-4356,4370-4400,6400");
  });

  it("a modem that stops answering is reopened", async () => {
    const { sim, harness } = await setup();
    await harness.healthy();
    sim.options.silent = true;
    const from = harness.results.length;
    await harness.waitFor((r) => r.event === "link" && !r.link.up, 15_000, from);
    sim.options.silent = false;
    await harness.healthy(from, 15_000);
  });
});
