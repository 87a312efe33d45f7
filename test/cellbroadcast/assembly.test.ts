import { afterEach, describe, expect, it, vi } from "vitest";
import { AlertCorrelator, normaliseText } from "../../src/cellbroadcast/alert-correlator.js";
import {
  type Broadcast,
  BroadcastReceiver,
  type ReceiverEvent,
} from "../../src/cellbroadcast/broadcast-receiver.js";
import { encodeCbsPages } from "../../src/cellbroadcast/cbs-encode.js";
import { decodeCbsHex } from "../../src/cellbroadcast/cbs-pdu.js";
import { MessageDedup, scopeOf } from "../../src/cellbroadcast/message-dedup.js";
import { type AssembledMessage, PageAssembler } from "../../src/cellbroadcast/page-assembler.js";
import {
  decodeSerialNumber,
  encodeSerialNumber,
  isNewerUpdate,
} from "../../src/cellbroadcast/serial-number.js";
import { NL_2023, NL_2023_TEXTS } from "./vectors.js";

afterEach(() => {
  vi.useRealTimers();
});

function page(hex: string) {
  const r = decodeCbsHex(hex);
  if (!r.ok) throw new Error(r.message);
  return r.pages[0]!;
}

function receiver(over: Partial<ConstructorParameters<typeof BroadcastReceiver>[0]> = {}) {
  const events: ReceiverEvent[] = [];
  const r = new BroadcastReceiver({ onEvent: (e) => events.push(e), ...over });
  const broadcasts = () =>
    events
      .filter((e): e is Extract<ReceiverEvent, { type: "broadcast" }> => e.type === "broadcast")
      .map((e) => e.broadcast);
  const count = (type: ReceiverEvent["type"], pred: (e: ReceiverEvent) => boolean = () => true) =>
    events.filter((e) => e.type === type && pred(e)).length;
  let t = Date.parse("2023-12-04T11:00:05Z");
  const feed = (hex: string, dt = 1000) => {
    t += dt;
    r.pdu(hex, { at: t, mono: t }, hex.length / 2);
  };
  return { r, events, broadcasts, count, feed };
}

describe("page assembly", () => {
  it("assembles pages arriving out of order and repeated; duplicates are flagged", () => {
    const out: AssembledMessage[] = [];
    const a = new PageAssembler(300_000, (m) => out.push(m));
    const pages = NL_2023.map((hex, i) => ({
      page: page(hex),
      receivedAt: 1000 + i,
      receivedMono: i,
      pdu: hex,
    }));
    expect(a.add("plmn:20408", pages[2]!)).toEqual({ status: "new" });
    expect(a.add("plmn:20408", pages[0]!)).toEqual({ status: "new" });
    expect(a.add("plmn:20408", pages[0]!)).toEqual({ status: "duplicate" });
    const done = a.add("plmn:20408", pages[1]!);
    expect(done.status).toBe("new");
    expect(done.completed).toMatchObject({
      complete: true,
      received: [1, 2, 3],
      missing: [],
      text: NL_2023_TEXTS.join(""),
    });
    expect(done.completed!.pdus).toEqual([...NL_2023]);
    expect(out).toHaveLength(0);
    expect(a.size).toBe(0);
  });

  it("gives up after the timeout (5 min by default) with the pages seen", () => {
    vi.useFakeTimers();
    const out: AssembledMessage[] = [];
    const a = new PageAssembler(300_000, (m) => out.push(m));
    a.add("s", { page: page(NL_2023[0]), receivedAt: 0, receivedMono: 0, pdu: NL_2023[0] });
    vi.advanceTimersByTime(299_999);
    expect(out).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(out[0]).toMatchObject({ complete: false, received: [1], missing: [2, 3] });
    expect(out[0]!.text).toBe(`${NL_2023_TEXTS[0]}[page 2 missing][page 3 missing]`);
  });

  it("the same serial number in a different scope is another message", () => {
    const out: AssembledMessage[] = [];
    const a = new PageAssembler(1000, (m) => out.push(m));
    const p = { page: page(NL_2023[0]), receivedAt: 0, receivedMono: 0, pdu: NL_2023[0] };
    expect(a.add("plmn:20408", p).status).toBe("new");
    expect(a.add("plmn:20416", p).status).toBe("new");
    a.clear();
    expect(out).toHaveLength(0);
  });
});

describe("de-duplication", () => {
  const sn = (code: number, update: number, gs = 1) =>
    decodeSerialNumber(encodeSerialNumber(gs, code, update));

  it("same channel and serial number within 24 h: duplicate; a higher update number: an update", () => {
    vi.useFakeTimers();
    const d = new MessageDedup();
    const t = 0;
    expect(d.verdict("plmn:x", 4371, sn(106, 0), t)).toBe("new");
    d.record("plmn:x", 4371, sn(106, 0), true, t);
    expect(d.verdict("plmn:x", 4371, sn(106, 0), t + 3600_000)).toBe("duplicate");
    expect(d.verdict("plmn:x", 919, sn(106, 0), t)).toBe("new");
    expect(d.verdict("plmn:y", 4371, sn(106, 0), t)).toBe("new");
    expect(d.verdict("plmn:x", 4371, sn(106, 1), t)).toBe("update");
    d.record("plmn:x", 4371, sn(106, 1), true, t);
    expect(d.verdict("plmn:x", 4371, sn(106, 0), t)).toBe("duplicate"); // an older copy
    expect(d.verdict("plmn:x", 4371, sn(106, 1), t + 24 * 3600_000 + 1)).toBe("new");
  });

  it("update numbers wrap modulo 16", () => {
    expect(isNewerUpdate(0, 15)).toBe(true);
    expect(isNewerUpdate(7, 0)).toBe(true);
    expect(isNewerUpdate(8, 0)).toBe(false);
    expect(isNewerUpdate(3, 3)).toBe(false);
  });

  it("an incomplete delivery may be completed later; it never downgrades a complete one", () => {
    const d = new MessageDedup();
    d.record("s", 4371, sn(1, 0), false, 0);
    expect(d.verdict("s", 4371, sn(1, 0), 1)).toBe("retry");
    d.record("s", 4371, sn(1, 0), true, 2);
    d.record("s", 4371, sn(1, 0), false, 3);
    expect(d.verdict("s", 4371, sn(1, 0), 4)).toBe("duplicate");
  });

  it("scope: PLMN-wide ignores the cell; cell-wide does not", () => {
    const a = { plmn: "20408", area: "1A2B", cell: "01" };
    const b = { plmn: "20408", area: "1A2B", cell: "02" };
    expect(scopeOf(1, a)).toBe(scopeOf(1, b));
    expect(scopeOf(2, a)).toBe(scopeOf(2, b));
    expect(scopeOf(3, a)).not.toBe(scopeOf(3, b));
    expect(scopeOf(0, a)).not.toBe(scopeOf(0, b));
  });
});

describe("the receive pipeline", () => {
  it("reports the NL test once; repetitions are duplicate pages", () => {
    const { events, broadcasts, count, feed } = receiver();
    for (let i = 0; i < 3; i++) for (const p of NL_2023) feed(p);
    expect(broadcasts()).toHaveLength(1);
    const b = broadcasts()[0]!;
    expect(b).toMatchObject({
      kind: "nl_test",
      complete: true,
      isUpdate: false,
      text: NL_2023_TEXTS.join(""),
    });
    expect(b.textTime?.toISOString()).toBe("2023-12-04T11:00:00.000Z");
    expect(count("page")).toBe(9);
    expect(count("page", (e) => e.type === "page" && e.duplicate)).toBe(6);
    expect(events.filter((e) => e.type === "decode_error")).toEqual([]);
  });

  it("a higher update number is reported as an update", () => {
    const { broadcasts, feed } = receiver();
    const v0 = encodeCbsPages({
      messageIdentifier: 4371,
      serialNumber: encodeSerialNumber(1, 7, 0),
      dcs: 5,
      text: "Brand in Alkmaar",
    });
    const v1 = encodeCbsPages({
      messageIdentifier: 4371,
      serialNumber: encodeSerialNumber(1, 7, 1),
      dcs: 5,
      text: "Brand in Alkmaar: sein veilig",
    });
    feed(v0[0]!);
    feed(v1[0]!);
    feed(v0[0]!); // a stale copy of the old version
    expect(broadcasts().map((b) => [b.text, b.isUpdate])).toEqual([
      ["Brand in Alkmaar", false],
      ["Brand in Alkmaar: sein veilig", true],
    ]);
  });

  it("a missing page: incomplete once; the same pages missing again are not reported twice; completed later, reported", () => {
    vi.useFakeTimers();
    const { broadcasts, count, feed } = receiver({ assemblyTimeoutMs: 60_000 });
    feed(NL_2023[0]);
    vi.advanceTimersByTime(60_000);
    feed(NL_2023[0]);
    vi.advanceTimersByTime(60_000);
    expect(broadcasts().map((b) => b.complete)).toEqual([false]);
    expect(count("duplicate")).toBe(1);
    for (const p of NL_2023) feed(p);
    expect(broadcasts().map((b) => [b.complete, b.afterIncomplete])).toEqual([
      [false, false],
      [true, true],
    ]);
  });

  it("a length that disagrees with +CBM is reported and the PDU decoded; bad hex and unknown DCS are reported", () => {
    const { r, events, broadcasts } = receiver();
    r.pdu(NL_2023[2], { at: 0, mono: 0 }, 88);
    r.pdu("XYZ", { at: 0, mono: 0 }, 2);
    r.pdu(`46A0111394${"11"}${"41".repeat(20)}`, { at: 0, mono: 0 });
    const errors = events.filter((e) => e.type === "decode_error");
    expect(errors.map((e) => e.type === "decode_error" && [e.reason, e.recovered])).toEqual([
      ["length", true],
      ["hex", false],
      ["dcs", false],
    ]);
    expect(events.filter((e) => e.type === "page")).toHaveLength(1);
    expect(broadcasts()).toHaveLength(0);
  });

  it("copies on 919 and 4371 and the additional-language channel are one logical alert", () => {
    const { broadcasts, feed } = receiver();
    const sn = encodeSerialNumber(1, 300, 0);
    const nl = "NL-Alert 07-11-2023 13:37 Grote brand met veel rook aan de Kanaalkade in Alkmaar.";
    feed(encodeCbsPages({ messageIdentifier: 4371, serialNumber: sn, dcs: 5, text: nl })[0]!);
    feed(
      encodeCbsPages({
        messageIdentifier: 919,
        serialNumber: encodeSerialNumber(1, 12, 0),
        dcs: 5,
        text: `${nl}\r`,
      })[0]!,
      5000,
    );
    feed(
      encodeCbsPages({
        messageIdentifier: 4384,
        serialNumber: sn,
        dcs: 1,
        text: "NL-Alert: large fire in Alkmaar.",
      })[0]!,
      5000,
    );
    const [a, b, c] = broadcasts() as [Broadcast, Broadcast, Broadcast];
    expect([a.kind, b.kind, c.kind]).toEqual(["alert", "alert", "alert"]);
    expect(a.alert.first).toBe(true);
    expect([b.alert.first, b.alert.alertId]).toEqual([false, a.alert.alertId]);
    expect([c.alert.first, c.alert.alertId]).toEqual([false, a.alert.alertId]);
    expect(c.alert.channels).toEqual([4371, 919, 4384]);
    expect(b.alert.firstSeenAt).toBe(a.firstPageAt);
  });
});

describe("logical alerts", () => {
  it("the same text outside the window is a new alert; another text inside it too", () => {
    const c = new AlertCorrelator(600_000);
    const a = c.match({ messageIdentifier: 4371, messageCode: 1, text: "A", at: 0 });
    expect(c.match({ messageIdentifier: 919, messageCode: 9, text: " a ", at: 599_000 }).alertId).toBe(
      a.alertId,
    );
    expect(c.match({ messageIdentifier: 4371, messageCode: 2, text: "B", at: 1000 }).first).toBe(true);
    expect(c.match({ messageIdentifier: 919, messageCode: 9, text: "A", at: 700_000 }).first).toBe(true);
  });

  it("normalisation folds case, whitespace and Unicode forms", () => {
    expect(normaliseText("  NL-Alert\r\n  TEST  ")).toBe("nl-alert test");
    expect(normaliseText("ﬁ")).toBe("fi");
  });
});
