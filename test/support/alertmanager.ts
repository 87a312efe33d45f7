import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.js";
import { type ExitResult, type ManagedProcess, spawnManaged } from "./process.js";
import { waitUntilReady } from "./ready.js";

/** The Debian package's binary; upstream calls it `alertmanager`. */
export const ALERTMANAGER = "prometheus-alertmanager";

/** Options for {@link startAlertmanager}. */
export interface AlertmanagerOptions {
  /** Address for the API; a free port is picked on it. */
  ip: string;
  /** The configuration, as data or as YAML text. */
  config: Record<string, unknown> | string;
  /** Working directory (configuration, state); a fresh one when absent. Removed by `stop()`. */
  dir?: string;
  readyTimeoutMs?: number;
}

/** One alert as `GET /api/v2/alerts` lists it. */
export interface AmAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly fingerprint: string;
  readonly receivers: ReadonlyArray<{ readonly name: string }>;
  readonly status: {
    readonly state: "active" | "suppressed" | "unprocessed";
    readonly inhibitedBy: readonly string[];
    readonly silencedBy: readonly string[];
  };
}

/** A running Alertmanager with its own configuration and state in a temp directory. */
export interface AlertmanagerRun {
  readonly process: ManagedProcess;
  /** "http://IP:PORT": where Prometheus sends alerts and the API answers. */
  readonly url: string;
  /** "IP:PORT", for Prometheus's `alerting.alertmanagers` targets. */
  readonly address: string;
  readonly dir: string;
  /** Every alert it holds, active, inhibited and silenced alike. */
  alerts(): Promise<AmAlert[]>;
  /** SIGTERM, then removes the directory. */
  stop(): Promise<ExitResult>;
}

/**
 * Starts a single Alertmanager (clustering off: a lone peer would otherwise wait for gossip to
 * settle before its first notification) and waits until it answers /-/ready.
 */
export async function startAlertmanager(o: AlertmanagerOptions): Promise<AlertmanagerRun> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "p112-alertmanager-"));
  const configFile = join(dir, "alertmanager.yml");
  const data = join(dir, "data");
  mkdirSync(data, { recursive: true });
  writeFileSync(configFile, typeof o.config === "string" ? o.config : stringify(o.config));
  const port = await freePort("tcp", o.ip);
  const address = `${o.ip}:${port}`;
  const url = `http://${address}`;
  const proc = spawnManaged(
    ALERTMANAGER,
    [
      `--config.file=${configFile}`,
      `--storage.path=${data}`,
      `--web.listen-address=${address}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    { name: "alertmanager", cwd: dir, maxOutputChars: 256 * 1024 },
  );
  await waitUntilReady({ proc, name: "alertmanager", url, dir, timeoutMs: o.readyTimeoutMs });
  return {
    process: proc,
    url,
    address,
    dir,
    async alerts() {
      const res = await fetch(
        `${url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`,
      );
      if (res.status !== 200) throw new Error(`alertmanager GET /api/v2/alerts: ${res.status}`);
      return (await res.json()) as AmAlert[];
    },
    async stop() {
      const result = await proc.stop("SIGTERM", 5000);
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}
