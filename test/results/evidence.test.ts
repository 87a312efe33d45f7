import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { keyIdOf, lineHash, readSeal, sealLine, signatureValid } from "../../src/results/evidence.js";
import { Journal } from "../../src/results/journal.js";
import { matchJournals } from "../../src/results/journal-match.js";
import { verifyPath } from "../../src/results/journal-verify.js";
import { generateJournalKeys, loadJournalKey } from "../../src/results/keys.js";

const keys = generateKeyPairSync("ed25519");
const key = { privateKey: keys.privateKey, keyId: keyIdOf(keys.publicKey) };

describe("sealed lines", () => {
  it("carry seq and prev first, and a signature over their own bytes", () => {
    const line = sealLine(
      { type: "result", outcome: "answered", seq: 99, sig: "forged" },
      7,
      "ab".repeat(32),
      key,
    );
    expect(line.startsWith('{"seq":7,"prev":"')).toBe(true);
    const seal = readSeal(line)!;
    expect(seal).toMatchObject({ seq: 7, kid: key.keyId });
    expect(signatureValid(seal, keys.publicKey)).toBe(true);
    const tampered = readSeal(line.replace("answered", "answerez"))!;
    expect(signatureValid(tampered, keys.publicKey)).toBe(false);
    expect(signatureValid(seal, generateKeyPairSync("ed25519").publicKey)).toBe(false);
  });
});

describe("journal verification finds the first broken record", () => {
  let dir: string;
  let file: string;
  let original: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "p112-evidence-"));
    const j = new Journal(dir, "agent", key);
    for (let n = 1; n <= 8; n++)
      await j.append("result", { n, outcome: "answered" }, new Date("2026-11-28T12:00:00Z"));
    await j.close();
    file = join(dir, "agent-2026-11-28.jsonl");
    original = readFileSync(file, "utf8").trimEnd().split("\n");
  });
  const rewrite = (l: string[]) => writeFileSync(file, `${l.join("\n")}\n`);
  const first = () => verifyPath(dir, keys.publicKey)[0]!.problems[0];

  it("an intact, signed journal verifies", () => {
    expect(verifyPath(dir, keys.publicKey)[0]).toMatchObject({
      ok: true,
      records: 8,
      signed: 8,
      problems: [],
    });
  });

  it("one changed byte: that record is named as edited", () => {
    const l = [...original];
    l[3] = l[3]!.replace('"answered"', '"answerez"');
    rewrite(l);
    expect(first()).toMatchObject({ kind: "edited", line: 4, seq: 4 });
  });

  it("a deleted line: the gap is named", () => {
    rewrite(original.filter((_, i) => i !== 4));
    expect(first()).toMatchObject({ kind: "removed", line: 5, detail: "record 5 is missing" });
  });

  it("two swapped lines: named as reordered", () => {
    const l = [...original];
    [l[2], l[3]] = [l[3]!, l[2]!];
    rewrite(l);
    expect(first()).toMatchObject({ kind: "reordered", line: 3, seq: 4 });
  });

  it("an inserted line, even with a consistent chain, fails without the key", () => {
    const forged = sealLine({ time: "x", type: "result", n: 99 }, 5, lineHash(original[3]!));
    rewrite([...original.slice(0, 4), forged, ...original.slice(4)]);
    expect(first()).toMatchObject({ kind: "unsigned", line: 5 });
  });

  it("a journal signed with another key is not accepted as this instance's", () => {
    expect(verifyPath(dir, generateKeyPairSync("ed25519").publicKey)[0]!.problems[0]).toMatchObject({
      kind: "unknown_key",
    });
  });

  it("a whole day file removed from a directory breaks the chain", async () => {
    const j = new Journal(dir, "agent", key);
    await j.append("result", { n: 9 }, new Date("2026-11-29T12:00:00Z"));
    await j.append("result", { n: 10 }, new Date("2026-11-30T12:00:00Z"));
    await j.close();
    expect(verifyPath(dir, keys.publicKey)[0]!.ok).toBe(true);
    unlinkSync(join(dir, "agent-2026-11-29.jsonl"));
    expect(first()).toMatchObject({ kind: "removed", detail: "record 9 is missing" });
    renameSync(file, join(dir, "agent-2026-12-31.jsonl"));
    expect(verifyPath(dir, keys.publicKey)[0]!.problems[0]).toMatchObject({ kind: "removed" });
  });
});

describe("keys", () => {
  it("generate a private key readable by its owner only, and never overwrite it", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "p112-keys-")), "k");
    const k = generateJournalKeys(dir, "agent-1");
    expect(readFileSync(k.privateKeyFile).length > 0).toBe(true);
    const { statSync } = require("node:fs") as typeof import("node:fs");
    expect(statSync(k.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(loadJournalKey(k.privateKeyFile).keyId).toBe(k.keyId);
    expect(() => generateJournalKeys(dir, "agent-1")).toThrow(/never overwritten/);
    expect(() => loadJournalKey(k.publicKeyFile)).toThrow(/not an Ed25519 private key/);
  });
});

describe("cross-confirmation of agent and answering point journals", () => {
  const agentRec = (token: string, identity: string, startedAt = "2026-11-28T12:00:00.000Z") => ({
    type: "result",
    kind: "sip_call",
    check: "kpn-voip.test-112",
    agent: "kpn-1",
    path: "kpn-voip",
    destination: "test-112",
    outcome: "answered",
    startedAt,
    verification: { identity },
    call: { token, callId: `c-${token}` },
  });
  const receipt = (token: string, check = "match") => ({
    type: "test_call",
    outcome: "completed",
    token,
    agent: "kpn-1",
    path: "kpn-voip",
    receivedAt: "2026-11-28T12:00:00.050Z",
    callId: `r-${token}`,
    source: "198.51.100.1:5060",
    callerId: { check, received: "+3120", declared: "+3121" },
  });

  it("joins by token, and finds calls answered in the responder's name that it never saw", () => {
    const m = matchJournals(
      [agentRec("t1", "ok"), agentRec("t2", "ok"), agentRec("t3", "mismatch")],
      [receipt("t1"), receipt("t9", "mismatch")],
    );
    expect(m.expectedAtResponder).toBe(2);
    expect(m.confirmed).toBe(1);
    expect(m.answeredWithoutReceipt.map((c) => c.token)).toEqual(["t2"]);
    expect(m.receiptsWithoutAgent.map((r) => r.token)).toEqual(["t9"]);
    expect(m.callerIdMismatches).toEqual([
      expect.objectContaining({ token: "t9", received: "+3120", declared: "+3121" }),
    ]);
  });
});
