import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AtChannel,
  AtCommandError,
  AtTimeoutError,
  type CbmUrc,
} from "../../src/cellbroadcast/at-channel.js";
import { LineSplitter, MAX_LINE } from "../../src/cellbroadcast/at-lines.js";
import {
  finalResult,
  parseCbmHeader,
  parseCops,
  parseCscb,
  parseCsq,
  parseRegistration,
  ratOf,
} from "../../src/cellbroadcast/at-responses.js";
import { missingChannels, parseChannelList } from "../../src/cellbroadcast/channels.js";
import { subscriptionOk } from "../../src/cellbroadcast/modem-driver.js";
import { NL_2023 } from "./vectors.js";

afterEach(() => {
  vi.useRealTimers();
});

function splitter() {
  const lines: string[] = [];
  const faults: string[] = [];
  const s = new LineSplitter({ line: (l) => lines.push(l), fault: (k) => faults.push(k) });
  return { s, lines, faults };
}

describe("line splitting", () => {
  it("CR LF, CR alone, LF alone, and lines cut anywhere", () => {
    const { s, lines } = splitter();
    for (const c of ["\r\nO", "K\r\n+CSQ: 2", "1,99\r", "RDY\n\n", "\r\n+CBM: 88\r\n46A0", "1113\r\n"])
      s.push(Buffer.from(c));
    expect(lines).toEqual(["OK", "+CSQ: 21,99", "RDY", "+CBM: 88", "46A01113"]);
  });

  it("binary noise is a fault, not a line; an overlong line is cut and counted once", () => {
    const { s, lines, faults } = splitter();
    s.push(Buffer.from([0x00, 0xff, 0x13, 0x0d, 0x0a]));
    s.push(Buffer.from("x".repeat(MAX_LINE + 10)));
    s.push(Buffer.from("yyy\r\nOK\r\n"));
    expect(faults).toEqual(["binary", "overlong"]);
    expect(lines).toEqual(["OK"]);
  });

  it("the link dropping mid-line leaves a half line", () => {
    const { s, lines, faults } = splitter();
    s.push(Buffer.from("\r\n+CBM: 88\r\n46A01113"));
    s.reset();
    s.push(Buffer.from("OK\r\n"));
    expect(faults).toEqual(["half_line"]);
    expect(lines).toEqual(["+CBM: 88", "OK"]);
  });
});

function channel() {
  const written: string[] = [];
  const cbms: CbmUrc[] = [];
  const urcs: string[] = [];
  const faults: string[] = [];
  const ch = new AtChannel(
    (t) => written.push(t),
    { cbm: (u) => cbms.push(u), urc: (l) => urcs.push(l), fault: (k) => faults.push(k) },
    1000,
  );
  return { ch, written, cbms, urcs, faults };
}

describe("AT commands and URCs", () => {
  it("a command's response lines, its echo ignored, a URC and a +CBM in the middle kept apart", async () => {
    const { ch, written, cbms, urcs } = channel();
    const p = ch.send("AT+CSCB?");
    expect(written).toEqual(["AT+CSCB?\r"]);
    for (const l of ["AT+CSCB?", "+CBM: 65", NL_2023[2], "RING", '+CSCB: 0,"919,4371",""', "OK"]) ch.line(l);
    await expect(p).resolves.toEqual(['+CSCB: 0,"919,4371",""']);
    expect(cbms.map((c) => [c.header, c.data])).toEqual([[{ mode: "pdu", length: 65 }, NL_2023[2]]]);
    expect(urcs).toEqual(["RING"]);
  });

  it("commands run one at a time, in order; ERROR and +CME ERROR reject", async () => {
    const { ch, written } = channel();
    const a = ch.send('AT+CSCB=0,"919",""');
    const b = ch.send("AT+CMGF=0");
    expect(written).toHaveLength(1);
    ch.line("ERROR");
    await expect(a).rejects.toBeInstanceOf(AtCommandError);
    expect(written).toHaveLength(2);
    ch.line("+CME ERROR: 4");
    await expect(b).rejects.toThrow("AT+CMGF=0: +CME ERROR: 4");
  });

  it("a +CBM header without its PDU: a fault, and the line that came instead still handled", async () => {
    const { ch, cbms, faults } = channel();
    const p = ch.send("AT+CSQ");
    ch.line("+CBM: 88");
    ch.line("+CSQ: 21,99");
    ch.line("OK");
    await expect(p).resolves.toEqual(["+CSQ: 21,99"]);
    expect(faults).toEqual(["missing_pdu"]);
    expect(cbms).toEqual([]);
  });

  it("a non-hex PDU line is still handed on (the decoder reports it); text-mode +CBM takes any data line", () => {
    const { ch, cbms } = channel();
    ch.line("+CBM: 6");
    ch.line("46A0ZZ1113");
    ch.line("+CBM: 18080,4371,5,1,3");
    ch.line("+NL-Alert begins with a plus");
    expect(cbms.map((c) => c.data)).toEqual(["46A0ZZ1113", "+NL-Alert begins with a plus"]);
    expect(cbms[1]!.header).toEqual({
      mode: "text",
      serialNumber: 18080,
      messageIdentifier: 4371,
      dcs: 5,
      page: 1,
      pages: 3,
    });
  });

  it("a timeout rejects; a late OK is a stray result, not the next command's answer", async () => {
    vi.useFakeTimers();
    const { ch, written, faults } = channel();
    const a = ch.send("AT+COPS?");
    const b = ch.send("AT+CSQ");
    vi.advanceTimersByTime(1000);
    await expect(a).rejects.toBeInstanceOf(AtTimeoutError);
    ch.line("OK"); // the late answer arrives while the channel settles
    expect(faults).toEqual(["stray_result"]);
    vi.advanceTimersByTime(300);
    expect(written).toEqual(["AT+COPS?\r", "AT+CSQ\r"]);
    ch.line("+CSQ: 5,99");
    ch.line("OK");
    await expect(b).resolves.toEqual(["+CSQ: 5,99"]);
  });

  it("the link going away fails every command waiting, and drops a half +CBM", async () => {
    const { ch, faults } = channel();
    const a = ch.send("AT");
    const b = ch.send("ATE0");
    ch.line("+CBM: 88");
    ch.reset("gone");
    await expect(a).rejects.toThrow("link lost (gone)");
    await expect(b).rejects.toThrow("link lost (gone)");
    expect(faults).toEqual(["missing_pdu"]);
  });
});

describe("AT response parsers", () => {
  it("final results", () => {
    expect(finalResult("OK")).toEqual({ ok: true });
    expect(finalResult("ERROR")).toEqual({ ok: false, error: "ERROR" });
    expect(finalResult("+CMS ERROR: 303")).toEqual({ ok: false, error: "+CMS ERROR: 303" });
    expect(finalResult("+CSQ: 1,2")).toBeUndefined();
  });

  it("registration, operator, signal", () => {
    expect(parseRegistration('+CEREG: 2,5,"1A2B","01C3D4E5",7', "CEREG")).toEqual({
      stat: 5,
      registered: true,
      area: "1A2B",
      cell: "01C3D4E5",
      act: 7,
    });
    expect(parseRegistration("+CREG: 0,2", "CREG")).toMatchObject({ stat: 2, registered: false, act: null });
    expect(parseRegistration("+CREG: x", "CREG")).toBeUndefined();
    expect(parseCops('+COPS: 0,2,"20416",7')).toEqual({ mode: 0, operator: "20416", numeric: true, act: 7 });
    expect(parseCops("+COPS: 2")).toMatchObject({ mode: 2, operator: "" });
    expect(parseCsq("+CSQ: 31,99")).toEqual({ rssi: 31, dbm: -51 });
    expect(parseCsq("+CSQ: 99,99")).toEqual({ rssi: 99, dbm: null });
    expect([ratOf(0), ratOf(2), ratOf(7), ratOf(11), ratOf(null)]).toEqual([
      "gsm",
      "umts",
      "lte",
      "nr",
      "unknown",
    ]);
  });

  it("+CSCB? with spaces and the Dell 5821e default list", () => {
    expect(parseCscb('+CSCB: 0, "4383,4400,4370,4371-4378,4384-4391,4396-4397",""')).toEqual({
      mode: 0,
      mids: "4383,4400,4370,4371-4378,4384-4391,4396-4397",
      dcss: "",
    });
    expect(parseCscb("+CSCB: (0,1)")).toBeUndefined();
  });

  it("+CBM headers in PDU and text mode", () => {
    expect(parseCbmHeader("+CBM: 88")).toEqual({ mode: "pdu", length: 88 });
    expect(parseCbmHeader("+CBM:65")).toEqual({ mode: "pdu", length: 65 });
    expect(parseCbmHeader("+CBM: 1,2,3")).toBeUndefined();
    expect(parseCbmHeader('+CBMI: "BM",1')).toBeUndefined();
  });
});

describe("channel lists and the subscription check", () => {
  it("parses lists and finds what is missing", () => {
    expect(parseChannelList("919, 4352-4356 ,6400")).toEqual([
      [919, 919],
      [4352, 4356],
      [6400, 6400],
    ]);
    expect(parseChannelList("4400-4370")).toBeUndefined();
    expect(parseChannelList("abc")).toBeUndefined();
    expect(missingChannels("919,4370-4372", "4370,4371")).toEqual([919, 4372]);
  });

  it("mode 0, every wanted channel, no DCS left out", () => {
    const want = "919,4352-4356,4370-4400,6400";
    expect(subscriptionOk({ mode: 0, mids: want, dcss: "" }, want)).toBe(true);
    expect(subscriptionOk({ mode: 0, mids: "0-65535", dcss: "0-255" }, want)).toBe(true);
    expect(subscriptionOk({ mode: 0, mids: want, dcss: "0-15" }, want)).toBe(false);
    expect(subscriptionOk({ mode: 1, mids: want, dcss: "" }, want)).toBe(false);
    expect(
      subscriptionOk({ mode: 0, mids: "4383,4400,4370,4371-4378,4384-4391,4396-4397", dcss: "" }, want),
    ).toBe(false);
    expect(subscriptionOk(undefined, want)).toBe(false);
  });
});
