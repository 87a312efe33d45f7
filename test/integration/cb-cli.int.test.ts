import { afterEach, describe, expect, it } from "vitest";
import { LIBOSMOCORE_MAHLZEIT, NL_2023, NL_2023_TEXTS } from "../cellbroadcast/vectors.js";
import { CLI, runCli } from "../support/call.js";
import { spawnManaged } from "../support/process.js";
import { type PtyPair, startPtyPair } from "../support/pty-pair.js";
import { openSimModem, type SimModem } from "../support/sim-modem.js";

// The real binary: `probe112 cb decode` on the NL test pages, its usage errors, and `cb listen`
// against a simulated modem on a pseudo-terminal.

const NL_TEXT = NL_2023_TEXTS.join("");

describe("probe112 cb decode", () => {
  it("prints every header field and the reassembled text of the three NL test pages", async () => {
    const r = await runCli(["cb", "decode", ...NL_2023]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "NL-Alert (nl_test), complete, 3 pages",
        "channel        4371 (0x1113) NL-Alert",
        "serial number  0x46A0 = 18080: geographical scope 1 (PLMN-wide), message code 106, update 0",
        "coding         DCS 0x05: GSM 7-bit, nl",
        "language       nl",
        "format         gsm",
        "pages          1/3 (88 octets), 2/3 (88 octets), 3/3 (65 octets)",
        "text",
        `  ${NL_TEXT}`,
        "",
      ].join("\n"),
    );
  });

  it("--json: the fields of one page", async () => {
    const r = await runCli(["cb", "decode", NL_2023[2], "--json"]);
    expect(r.code).toBe(1); // pages 1 and 2 are missing
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      messageIdentifier: 4371,
      serialNumber: { raw: 18080, geographicalScope: 1, messageCode: 106, updateNumber: 0 },
      dcs: 5,
      page: 3,
      pages: 3,
      pagesReceived: [3],
      missing: [1, 2],
      complete: false,
      language: "nl",
      text: `[page 1 missing][page 2 missing]${NL_2023_TEXTS[2]}`,
    });
  });

  it("--json: the three pages reassembled, in any order", async () => {
    const r = await runCli(["cb", "decode", NL_2023[2], NL_2023[0], NL_2023[1], "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      messageIdentifier: 4371,
      serialNumber: { geographicalScope: 1, messageCode: 106, updateNumber: 0 },
      dcs: 5,
      page: 1,
      pages: 3,
      complete: true,
      kind: "nl_test",
      text: NL_TEXT,
    });
    expect(j.pageList.map((p: { octets: number }) => p.octets)).toEqual([88, 88, 65]);
  });

  it("one page of another message", async () => {
    const r = await runCli(["cb", "decode", LIBOSMOCORE_MAHLZEIT]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Required Monthly Test \(test\), complete, 1 page\n/);
    expect(r.stdout).toMatch(
      /serial number {2}0x0010 = 16: geographical scope 0 \(cell-wide, immediate\), message code 1/,
    );
    expect(r.stdout).toMatch(/\ntext\n {2}Mahlzeit!\n$/);
  });

  it.each([
    ["not hex", ["cb", "decode", "46A0ZZ"], /<hex>: the argument is not hex of whole octets: "46A0ZZ"/],
    ["odd length", ["cb", "decode", "46A01"], /<hex>: the argument is not hex of whole octets/],
    [
      "pages of two messages",
      ["cb", "decode", NL_2023[0], LIBOSMOCORE_MAHLZEIT],
      /<hex>: the PDUs are not pages of one message: MID 4371/,
    ],
    ["no PDU", ["cb", "decode"], /Not enough non-option arguments/],
    ["no cb command", ["cb"], /Not enough non-option arguments|Name a cb command/],
  ])("usage error: %s", async (_what, args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("a PDU that cannot be decoded: exit 1 and the reason", async () => {
    const r = await runCli(["cb", "decode", "46A01113"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /cannot decode the argument \(length\): 4 octets: shorter than the 6-octet header/,
    );
  });

  it("cb lab usage errors name the flag", async () => {
    const base = ["cb", "lab", "--device", "/dev/null", "--text", "x"];
    for (const [args, message] of [
      [["--cbc", "not a url"], /--cbc: not a URL/],
      [["--cbc", "ftp://x"], /--cbc: must be an http/],
      [["--cbc", "http://127.0.0.1:1", "--channel", "4371"], /--channel: 4371 is a live alert channel/],
      [["--cbc", "http://127.0.0.1:1", "--channel", "70000"], /--channel: must be a message identifier/],
      [["--cbc", "http://127.0.0.1:1", "--message-code", "2000"], /--message-code: must be 0–1023/],
    ] as const) {
      const r = await runCli([...base, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe("probe112 cb listen", () => {
  let pty: PtyPair | undefined;
  let sim: SimModem | undefined;

  afterEach(async () => {
    sim?.close();
    await pty?.close();
  });

  it("prints health and the NL test as it arrives, and exits 0 on SIGINT", async () => {
    pty = await startPtyPair();
    sim = openSimModem(pty.modem);
    const p = spawnManaged(
      process.execPath,
      [CLI, "cb", "listen", "--device", pty.host, "--health-interval", "5"],
      {
        name: "probe112 cb listen",
      },
    );
    await p.waitFor(/health: registered, 20408 lte, -71 dBm, subscription ok, pdu mode/, 15_000);
    for (const pdu of NL_2023) sim.cbm(pdu);
    sim.cbm(NL_2023[1]); // a repetition: not printed again
    await p.waitFor(/BROADCAST nl_test on 4371/, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    p.child.kill("SIGINT");
    const end = await p.exited;
    expect(end.code).toBe(0);
    expect(end.stdout).toMatch(
      /BROADCAST nl_test on 4371 \(NL-Alert\) SN 0x46A0 code 106 update 0, 3\/3 pages, nl\n {2}NL-Alert 04-12-2023 12:00: TESTBERICHT\./,
    );
    expect(end.stdout.match(/BROADCAST/g)).toHaveLength(1);
    expect(end.stdout).toContain(NL_TEXT);
  });

  it("--json: one result per line; a device that is not there is retried, not fatal", async () => {
    const p = spawnManaged(
      process.execPath,
      [CLI, "cb", "listen", "--device", "/nonexistent/tty", "--json"],
      {
        name: "probe112 cb listen",
      },
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(p.running()).toBe(true);
    p.child.kill("SIGINT");
    const end = await p.exited;
    expect(end.code).toBe(0);
    // One result for the outage, however often the open is retried.
    const lines = end.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((r) => [r.kind, r.event])).toEqual([
      ["cell_broadcast", "link"],
      ["cell_broadcast", "health"],
    ]);
    expect(lines[0]).toMatchObject({ success: false, link: { up: false }, device: "/nonexistent/tty" });
    expect(lines[0].link.reason).toMatch(/cannot open \/nonexistent\/tty/);
  });

  it("a bad flag is a usage error", async () => {
    const r = await runCli(["cb", "listen", "--device", "/dev/null", "--health-interval", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--health-interval: healthInterval must be at least 5 s/);
  });
});
