/**
 * The serial port of one modem, kept open: when the device vanishes (a USB modem re-enumerating,
 * a cable pulled) the link reports it and keeps trying to open the same path again, backing off
 * up to a ceiling, until it is stopped.
 */

import type { SerialPort as SerialPortType } from "serialport";

export interface SerialLinkOptions {
  readonly path: string;
  readonly baudRate: number;
  /** First retry after this long; doubles up to reconnectMaxMs. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

export interface SerialLinkEvents {
  open(): void;
  data(chunk: Buffer): void;
  /** The port closed or could not be opened; a retry is scheduled unless stopped. */
  down(reason: string, retryInMs: number): void;
}

// Loaded on first use: decoding PDUs must work even where the native binding cannot load.
let serialPortClass: Promise<typeof SerialPortType> | undefined;
function loadSerialPort(): Promise<typeof SerialPortType> {
  serialPortClass ??= import("serialport").then((m) => m.SerialPort);
  return serialPortClass;
}

export class SerialLink {
  private port: SerialPortType | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private backoffMs: number;
  private stopped = false;
  private opening = false;

  constructor(
    private readonly o: SerialLinkOptions,
    private readonly events: SerialLinkEvents,
  ) {
    this.backoffMs = o.reconnectMinMs ?? 1000;
  }

  /** Opens the port, and keeps reopening it whenever it goes away. */
  start(): void {
    this.stopped = false;
    void this.open();
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  /** Writes text; throws when the port is not open. */
  write(text: string): void {
    if (!this.port?.isOpen) throw new Error(`${this.o.path} is not open`);
    this.port.write(Buffer.from(text, "latin1"));
  }

  /** Closes the port and opens it again (a modem that stopped answering). */
  reopen(reason: string): void {
    const p = this.port;
    this.port = undefined;
    if (p?.isOpen) p.close();
    this.lost(reason);
  }

  /** Closes the port for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const p = this.port;
    this.port = undefined;
    if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()));
  }

  private async open(): Promise<void> {
    if (this.stopped || this.opening) return;
    this.opening = true;
    let SerialPort: typeof SerialPortType;
    try {
      SerialPort = await loadSerialPort();
    } catch (e) {
      this.opening = false;
      this.lost(`the serialport native binding cannot load: ${(e as Error).message}`);
      return;
    }
    const port = new SerialPort({ path: this.o.path, baudRate: this.o.baudRate, autoOpen: false });
    port.open((err) => {
      this.opening = false;
      if (err) {
        this.lost(`cannot open ${this.o.path}: ${err.message}`);
        return;
      }
      if (this.stopped) {
        port.close();
        return;
      }
      this.port = port;
      this.backoffMs = this.o.reconnectMinMs ?? 1000;
      port.on("data", (chunk: Buffer) => {
        if (this.port === port) this.events.data(chunk);
      });
      port.on("close", (e: (Error & { disconnected?: boolean }) | null) => {
        if (this.port !== port) return;
        this.port = undefined;
        this.lost(e?.disconnected ? `${this.o.path} disconnected` : `${this.o.path} closed`);
      });
      // Errors after open (a write to a vanished device) end in "close"; they must not throw.
      port.on("error", () => {});
      this.events.open();
    });
  }

  private lost(reason: string): void {
    if (this.stopped) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.reconnectMaxMs ?? 30_000);
    this.events.down(reason, wait);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, wait);
  }
}
