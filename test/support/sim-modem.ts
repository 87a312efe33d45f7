import { constants, openSync, writeSync } from "node:fs";
import { ReadStream } from "node:tty";

/**
 * A simulated cellular modem on the far end of a pseudo-terminal: it answers AT commands the way
 * real modules do (echo until ATE0, OK / ERROR / +CME ERROR, +CSCB?, +COPS?, +CREG?, +CEREG?,
 * +CSQ) and emits +CBM URCs on cue. Quirks of real firmware can be switched on: a CSCB that
 * refuses an empty DCS list, CNMI settings it refuses, silence.
 */
export interface SimModemOptions {
  /** Answer ERROR to AT+CSCB=0,"…","" (an empty DCS list) but accept "0-255". */
  rejectEmptyDcsList?: boolean;
  /** Answer ERROR to every AT+CSCB command. */
  rejectCscb?: boolean;
  /** AT+CNMI parameter strings answered with ERROR. */
  refuseCnmi?: string[];
  /** Refuse PDU mode (AT+CMGF=0). */
  refusePduMode?: boolean;
  /** Answer nothing at all. */
  silent?: boolean;
  plmn?: string;
  rssi?: number;
  registered?: boolean;
}

export class SimModem {
  /** Every command received, in order. */
  readonly commands: string[] = [];
  echo = true;
  cscb = { mode: 0, mids: "", dcss: "" };
  cnmi = "";
  readonly options: SimModemOptions;
  private fd: number | undefined;
  private stream: ReadStream | undefined;
  private buffer = "";
  private listeners: Array<() => void> = [];

  constructor(
    readonly path: string,
    options: SimModemOptions = {},
  ) {
    this.options = { plmn: "20408", rssi: 21, registered: true, ...options };
  }

  /** Opens the modem end of the pty (again, after the device came back). */
  open(): this {
    this.close();
    const fd = openSync(this.path, constants.O_RDWR | constants.O_NOCTTY);
    const stream = new ReadStream(fd);
    stream.setRawMode(true);
    stream.setEncoding("latin1");
    stream.on("data", (chunk: string) => this.receive(chunk));
    // EIO once socat is gone: the device vanished, which is what the test wanted.
    stream.on("error", () => {});
    this.fd = fd;
    this.stream = stream;
    // A modem's settings do not survive it going away.
    this.echo = true;
    this.cscb = { mode: 0, mids: "", dcss: "" };
    this.cnmi = "";
    return this;
  }

  close(): void {
    const s = this.stream;
    this.stream = undefined;
    this.fd = undefined;
    // Destroying the tty stream closes its descriptor.
    if (s) s.destroy();
  }

  /** Writes bytes exactly as given (half lines, garbage, PDUs split across reads). */
  raw(text: string | Buffer): void {
    if (this.fd === undefined) throw new Error("the simulated modem is not open");
    const b = typeof text === "string" ? Buffer.from(text, "latin1") : text;
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off);
  }

  /** Emits unsolicited lines. */
  urc(...lines: string[]): void {
    this.raw(lines.map((l) => `\r\n${l}\r\n`).join(""));
  }

  /** Emits a PDU-mode +CBM, declaring the PDU's own length unless told otherwise. */
  cbm(pduHex: string, declaredLength = pduHex.length / 2): void {
    this.raw(`\r\n+CBM: ${declaredLength}\r\n${pduHex}\r\n`);
  }

  /** Resolves once a command matching `re` has been received. */
  waitForCommand(re: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.commands.slice(from).find((c) => re.test(c));
        if (hit !== undefined) {
          cleanup();
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `no command matching ${re} within ${timeoutMs} ms; got ${JSON.stringify(this.commands.slice(from))}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let i: number;
    // biome-ignore lint/suspicious/noAssignInExpressions: the usual split loop
    while ((i = this.buffer.search(/[\r\n]/)) >= 0) {
      const line = this.buffer.slice(0, i).trim();
      this.buffer = this.buffer.slice(i + 1);
      if (line) this.command(line);
    }
  }

  private command(cmd: string): void {
    this.commands.push(cmd);
    for (const l of [...this.listeners]) l();
    if (this.options.silent) return;
    if (this.echo) this.raw(`${cmd}\r`);
    const reply = this.answer(cmd);
    if (reply === "ERROR") this.raw("\r\nERROR\r\n");
    else if (typeof reply === "string") this.raw(`\r\n${reply}\r\n`);
    else this.raw(`${reply.map((l) => `\r\n${l}\r\n`).join("")}\r\nOK\r\n`);
  }

  private answer(cmd: string): string[] | "ERROR" | string {
    const o = this.options;
    const reg = o.registered ? 1 : 2;
    if (cmd === "AT" || cmd === "AT+CMEE=1") return [];
    if (cmd === "ATE0") {
      this.echo = false;
      return [];
    }
    if (cmd === "AT+CMGF=0") return o.refusePduMode ? "ERROR" : [];
    if (cmd === "AT+CMGF=1") return [];
    if (/^AT\+C(E)?REG=2$/.test(cmd) || cmd === "AT+COPS=3,2") return [];
    if (cmd === "AT+CREG?") return [`+CREG: 2,${reg},"1A2B","01C3D4E5",7`];
    if (cmd === "AT+CEREG?") return [`+CEREG: 2,${reg},"1A2B","01C3D4E5",7`];
    if (cmd === "AT+COPS?") return o.registered ? [`+COPS: 0,2,"${o.plmn}",7`] : ["+COPS: 0"];
    if (cmd === "AT+CSQ") return [`+CSQ: ${o.rssi},99`];
    if (cmd === "AT+CSCB?") {
      if (o.rejectCscb) return "+CME ERROR: 4";
      return [`+CSCB: ${this.cscb.mode},"${this.cscb.mids}","${this.cscb.dcss}"`];
    }
    if (cmd === "AT+CSCB=1") {
      if (o.rejectCscb) return "ERROR";
      // The Qualcomm way of clearing the list.
      this.cscb = { mode: 0, mids: "", dcss: "" };
      return [];
    }
    const cscb = /^AT\+CSCB=0,"([^"]*)","([^"]*)"$/.exec(cmd);
    if (cscb) {
      if (o.rejectCscb || (o.rejectEmptyDcsList && cscb[2] === "")) return "ERROR";
      this.cscb = { mode: 0, mids: cscb[1]!, dcss: cscb[2]! };
      return [];
    }
    const cnmi = /^AT\+CNMI=(.*)$/.exec(cmd);
    if (cnmi) {
      if (o.refuseCnmi?.includes(cnmi[1]!)) return "ERROR";
      this.cnmi = cnmi[1]!;
      return [];
    }
    return "ERROR";
  }
}

/** Opens a simulated modem on a pty end. */
export function openSimModem(path: string, options: SimModemOptions = {}): SimModem {
  return new SimModem(path, options).open();
}
