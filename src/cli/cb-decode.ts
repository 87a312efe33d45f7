import type { Argv, CommandModule } from "yargs";
import { type CbsPage, decodeCbsPdu, parseHex } from "../cellbroadcast/cbs-pdu.js";
import { type BroadcastKind, channelName } from "../cellbroadcast/channels.js";
import { classifyBroadcast } from "../cellbroadcast/classify.js";
import { describeDcs } from "../cellbroadcast/dcs.js";
import { scopeName } from "../cellbroadcast/serial-number.js";
import { renderDecoded } from "./render-cb.js";
import { EXIT, UsageError } from "./usage-error.js";

interface DecodeArgs {
  hex: string[];
  json: boolean;
}

/** A message decoded from the PDUs given on the command line, as `cb decode` prints it. */
export interface DecodedMessage {
  readonly format: CbsPage["format"];
  readonly messageIdentifier: number;
  readonly channel: string;
  readonly serialNumber: CbsPage["serialNumber"] & { readonly geographicalScopeName: string };
  readonly dcs: number | null;
  readonly coding: (NonNullable<CbsPage["coding"]> & { readonly description: string }) | null;
  readonly language: string | null;
  /** The page given (the first one given, for several). */
  readonly page: number;
  readonly pages: number;
  readonly pagesReceived: number[];
  readonly missing: number[];
  readonly complete: boolean;
  readonly kind: BroadcastKind;
  readonly text: string;
  readonly etws?: CbsPage["etws"];
  readonly warnings: string[];
  readonly pageList: Array<{ page: number; octets: number; text: string }>;
}

/** Decodes the PDUs (hex) into one message; throws UsageError naming the argument that is wrong. */
export function decodeArguments(hexes: readonly string[]): { message: DecodedMessage } | { error: string } {
  const pages: Array<{ page: CbsPage; octets: number }> = [];
  for (const [i, raw] of hexes.entries()) {
    const hex = raw.replace(/[\s:]/g, "");
    const bytes = parseHex(hex);
    const which = hexes.length > 1 ? `argument ${i + 1}` : "the argument";
    if (!bytes || bytes.length === 0) {
      throw new UsageError(
        "<hex>",
        `${which} is not hex of whole octets: ${JSON.stringify(raw.slice(0, 40))}`,
      );
    }
    const r = decodeCbsPdu(bytes);
    if (!r.ok) return { error: `cannot decode ${which} (${r.reason}): ${r.message}` };
    for (const p of r.pages) pages.push({ page: p, octets: bytes.length });
  }
  const head = pages[0]!.page;
  for (const { page } of pages) {
    const same =
      page.messageIdentifier === head.messageIdentifier &&
      page.serialNumber.raw === head.serialNumber.raw &&
      page.dcs === head.dcs &&
      page.pages === head.pages;
    if (!same) {
      throw new UsageError(
        "<hex>",
        `the PDUs are not pages of one message: ${describePage(head)} and ${describePage(page)}`,
      );
    }
  }
  const byNumber = new Map<number, { page: CbsPage; octets: number }>();
  const warnings: string[] = [];
  for (const p of pages) {
    if (byNumber.has(p.page.page)) warnings.push(`page ${p.page.page} given twice: the first one used`);
    else byNumber.set(p.page.page, p);
  }
  const received = [...byNumber.keys()].sort((a, b) => a - b);
  const missing: number[] = [];
  const texts: string[] = [];
  for (let n = 1; n <= head.pages; n++) {
    const p = byNumber.get(n);
    if (!p) {
      missing.push(n);
      texts.push(`[page ${n} missing]`);
    } else texts.push(p.page.text);
  }
  for (const n of received) for (const w of byNumber.get(n)!.page.warnings) warnings.push(`page ${n}: ${w}`);
  const text = texts.join("");
  const first = byNumber.get(received[0]!)!.page;
  return {
    message: {
      format: head.format,
      messageIdentifier: head.messageIdentifier,
      channel: channelName(head.messageIdentifier),
      serialNumber: {
        ...head.serialNumber,
        geographicalScopeName: scopeName(head.serialNumber.geographicalScope),
      },
      dcs: head.dcs,
      coding: head.coding ? { ...head.coding, description: describeDcs(head.coding) } : null,
      language: (byNumber.get(1) ?? byNumber.get(received[0]!))!.page.language,
      page: first.page,
      pages: head.pages,
      pagesReceived: received,
      missing,
      complete: missing.length === 0,
      kind: classifyBroadcast(head.messageIdentifier, text, head.etws?.warningType),
      text,
      ...(head.etws ? { etws: head.etws } : {}),
      warnings,
      pageList: received.map((n) => ({
        page: n,
        octets: byNumber.get(n)!.octets,
        text: byNumber.get(n)!.page.text,
      })),
    },
  };
}

function describePage(p: CbsPage): string {
  return `MID ${p.messageIdentifier} SN 0x${p.serialNumber.raw.toString(16).toUpperCase().padStart(4, "0")} page ${p.page}/${p.pages}`;
}

/** `probe112 cb decode HEX...`: decode cell-broadcast PDUs (several = pages of one message). */
export function cbDecodeCommand(setExit: (code: number) => void): CommandModule<object, DecodeArgs> {
  return {
    command: "decode <hex..>",
    describe:
      "Decode cell-broadcast PDUs (hex, as in +CBM); several are the pages of one message, reassembled",
    builder: (y: Argv) =>
      y
        .positional("hex", {
          type: "string",
          array: true,
          demandOption: true,
          describe:
            "A PDU in hex: a GSM page (up to 88 octets, shorter from LTE), UMTS CB-Data or ETWS primary",
        })
        .option("json", {
          type: "boolean",
          default: false,
          describe: "Print one JSON object with every header field and the text",
        })
        .example("$0 cb decode 46A0111305134E66…", "Decode one page")
        .example(
          "$0 cb decode PAGE1 PAGE2 PAGE3 --json",
          "Reassemble a three-page message",
        ) as unknown as Argv<DecodeArgs>,
    handler: (args) => {
      const hexes = args.hex.map(String);
      const r = decodeArguments(hexes);
      if ("error" in r) {
        process.stderr.write(`probe112 cb decode: ${r.error}\n`);
        setExit(EXIT.failed);
        return;
      }
      process.stdout.write(args.json ? `${JSON.stringify(r.message, null, 2)}\n` : renderDecoded(r.message));
      setExit(r.message.complete ? EXIT.ok : EXIT.failed);
    },
  };
}
