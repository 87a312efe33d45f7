/**
 * Parsers for the AT responses a cell-broadcast receiver reads (3GPP TS 27.007, TS 27.005):
 * final result codes, registration, operator, signal, the CB subscription and the +CBM header.
 * Each returns undefined for a line it does not recognise; none throws.
 */

export type FinalResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/** The final result a line is, if it is one. */
export function finalResult(line: string): FinalResult | undefined {
  if (line === "OK") return { ok: true };
  if (line === "ERROR" || line === "NO CARRIER" || line === "COMMAND NOT SUPPORT" || line === "ABORTED")
    return { ok: false, error: line };
  const m = /^\+(CME|CMS) ERROR:\s*(.*)$/.exec(line);
  if (m) return { ok: false, error: `+${m[1]} ERROR: ${m[2]}` };
  return undefined;
}

function fields(rest: string): string[] {
  const out: string[] = [];
  const re = /\s*("([^"]*)"|[^,]*)\s*(,|$)/g;
  let m: RegExpExecArray | null;
  // biome-ignore lint/suspicious/noAssignInExpressions: the usual exec loop
  while ((m = re.exec(rest)) !== null) {
    out.push(m[2] ?? m[1]!.trim());
    if (m[3] === "" || m.index === re.lastIndex) break;
  }
  return out;
}

/** The fields after "+NAME:", quotes removed; undefined when the line is not that response. */
export function responseFields(line: string, name: string): string[] | undefined {
  const prefix = `+${name}:`;
  if (!line.startsWith(prefix)) return undefined;
  return fields(line.slice(prefix.length));
}

export interface Registration {
  /** 0 not searching, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming, … */
  readonly stat: number;
  readonly registered: boolean;
  /** LAC or TAC (hex), when reported. */
  readonly area: string;
  readonly cell: string;
  readonly act: number | null;
}

/** Parses the answer to AT+CREG? / AT+CEREG? ("+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]"). */
export function parseRegistration(line: string, name: "CREG" | "CEREG" | "C5GREG"): Registration | undefined {
  const f = responseFields(line, name);
  if (!f || f.length < 2) return undefined;
  const stat = Number(f[1]);
  if (!Number.isInteger(stat)) return undefined;
  const act = f[4] !== undefined && f[4] !== "" ? Number(f[4]) : null;
  return {
    stat,
    registered: stat === 1 || stat === 5,
    area: (f[2] ?? "").toUpperCase(),
    cell: (f[3] ?? "").toUpperCase(),
    act: act !== null && Number.isInteger(act) ? act : null,
  };
}

export interface Operator {
  readonly mode: number;
  /** The PLMN (MCC+MNC) with numeric format, or the name with alphanumeric formats; "" when none. */
  readonly operator: string;
  readonly numeric: boolean;
  readonly act: number | null;
}

/** Parses "+COPS: <mode>[,<format>,<oper>[,<AcT>]]". */
export function parseCops(line: string): Operator | undefined {
  const f = responseFields(line, "COPS");
  if (!f || f.length < 1 || !/^\d+$/.test(f[0]!)) return undefined;
  const act = f[3] !== undefined && /^\d+$/.test(f[3]) ? Number(f[3]) : null;
  return { mode: Number(f[0]), operator: f[2] ?? "", numeric: f[1] === "2", act };
}

/** The radio access technology of a 27.007 <AcT> value, as a label. */
export function ratOf(act: number | null): "gsm" | "umts" | "lte" | "nr" | "unknown" {
  if (act === null) return "unknown";
  if (act === 0 || act === 1 || act === 3) return "gsm";
  if (act === 2 || (act >= 4 && act <= 6)) return "umts";
  if (act === 7 || act === 8 || act === 9 || act === 10) return "lte";
  if (act === 11 || act === 12 || act === 13) return "nr";
  return "unknown";
}

/** Parses "+CSQ: <rssi>,<ber>"; dBm from rssi (0 → −113, 31 → −51), null for 99 (unknown). */
export function parseCsq(line: string): { rssi: number; dbm: number | null } | undefined {
  const f = responseFields(line, "CSQ");
  if (!f || f.length < 1) return undefined;
  const rssi = Number(f[0]);
  if (!Number.isInteger(rssi)) return undefined;
  return { rssi, dbm: rssi >= 0 && rssi <= 31 ? -113 + 2 * rssi : null };
}

/** Parses '+CSCB: <mode>,"<mids>","<dcss>"'. */
export function parseCscb(line: string): { mode: number; mids: string; dcss: string } | undefined {
  const f = responseFields(line, "CSCB");
  if (!f || f.length < 2 || !/^\d$/.test(f[0]!)) return undefined;
  return { mode: Number(f[0]), mids: f[1]!.replace(/\s+/g, ""), dcss: (f[2] ?? "").replace(/\s+/g, "") };
}

export type CbmHeader =
  | { readonly mode: "pdu"; readonly length: number }
  | {
      readonly mode: "text";
      readonly serialNumber: number;
      readonly messageIdentifier: number;
      readonly dcs: number;
      readonly page: number;
      readonly pages: number;
    };

/** Parses the first line of a +CBM URC: "+CBM: <length>" (PDU mode) or "+CBM: <sn>,<mid>,<dcs>,<page>,<pages>". */
export function parseCbmHeader(line: string): CbmHeader | undefined {
  const f = responseFields(line, "CBM");
  if (!f) return undefined;
  const n = f.map((x) => (/^\d{1,5}$/.test(x) ? Number(x) : Number.NaN));
  if (n.length === 1 && Number.isInteger(n[0])) return { mode: "pdu", length: n[0]! };
  if (n.length === 5 && n.every(Number.isInteger)) {
    return {
      mode: "text",
      serialNumber: n[0]!,
      messageIdentifier: n[1]!,
      dcs: n[2]!,
      page: n[3]!,
      pages: n[4]!,
    };
  }
  return undefined;
}
