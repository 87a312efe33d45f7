import { readFileSync } from "node:fs";
import type { Argv, CommandModule } from "yargs";
import { parseHostPort, parseListen } from "../config/common-schema.js";
import { ConfigError, readConfigFile, validateConfig } from "../config/load.js";
import { type ResponderConfig, responderConfigSchema } from "../config/responder-config.js";
import { readSecret, SecretError } from "../config/secrets.js";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { startMetricsServer } from "../metrics/metrics-server.js";
import { ResponderMetrics } from "../metrics/responder-metrics.js";
import { Responder } from "../responder/responder.js";
import { Journal } from "../results/journal.js";
import { loadJournalKey } from "../results/keys.js";
import { EXIT, UsageError } from "./usage-error.js";

interface ResponderArgs {
  config?: string;
  listen?: string[];
  metrics?: string;
  allow?: string[];
  name?: string;
  destination?: string[];
  "advertised-address"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "tls-ca"?: string;
  "tls-client-cert"?: "none" | "optional" | "required";
  "journal-dir"?: string;
  hold?: number;
  "ring-ms"?: number;
  media?: "loopback" | "echo" | "none";
  "max-concurrent"?: number;
  "max-concurrent-per-caller"?: number;
  "per-caller-per-minute"?: number;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

/** Merges flags over the configuration file (or builds one from flags alone) and validates the result. */
export function responderSettings(args: ResponderArgs): ResponderConfig {
  // Flags complete or override the file, so the file is validated only after they are merged in.
  const raw = args.config ? readConfigFile(args.config) : {};
  const fromFile = ((raw as { responder?: unknown } | null)?.responder ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...fromFile };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) merged[key] = value;
  };
  set("listen", args.listen);
  set("metrics", args.metrics);
  set("name", args.name);
  set("destinations", args.destination);
  set("advertisedAddress", args["advertised-address"]);
  set("journalDir", args["journal-dir"]);
  if (args.hold !== undefined || args["ring-ms"] !== undefined || args.media !== undefined) {
    merged.answer = {
      ...((fromFile.answer as object | undefined) ?? {}),
      ...(args.hold !== undefined ? { holdSeconds: args.hold } : {}),
      ...(args["ring-ms"] !== undefined ? { ringMs: args["ring-ms"] } : {}),
      ...(args.media !== undefined ? { media: args.media } : {}),
    };
  }
  if (
    args["max-concurrent"] !== undefined ||
    args["max-concurrent-per-caller"] !== undefined ||
    args["per-caller-per-minute"] !== undefined
  ) {
    merged.limits = {
      ...((fromFile.limits as object | undefined) ?? {}),
      ...(args["max-concurrent"] !== undefined ? { concurrentTests: args["max-concurrent"] } : {}),
      ...(args["max-concurrent-per-caller"] !== undefined
        ? { concurrentPerCaller: args["max-concurrent-per-caller"] }
        : {}),
      ...(args["per-caller-per-minute"] !== undefined
        ? { perCallerPerMinute: args["per-caller-per-minute"] }
        : {}),
    };
  }
  if (args.allow !== undefined) {
    const access = (fromFile.access as Record<string, unknown> | undefined) ?? {};
    merged.access = { ...access, allow: [...((access.allow as string[] | undefined) ?? []), ...args.allow] };
  }
  if (args["tls-cert"] !== undefined || args["tls-key"] !== undefined) {
    merged.tls = {
      ...((fromFile.tls as object | undefined) ?? {}),
      ...(args["tls-cert"] !== undefined ? { certFile: args["tls-cert"] } : {}),
      ...(args["tls-key"] !== undefined ? { keyFile: args["tls-key"] } : {}),
      ...(args["tls-ca"] !== undefined ? { caFile: args["tls-ca"] } : {}),
      ...(args["tls-client-cert"] === "required" ? { requireClientCert: true } : {}),
    };
  }
  if (merged.listen === undefined) {
    throw new UsageError(
      "--listen",
      "give at least one listener, e.g. --listen udp:0.0.0.0:5060, or a --config file",
    );
  }
  const top = { ...((raw as Record<string, unknown> | null) ?? {}), responder: merged };
  const settings = validateConfig(top, responderConfigSchema, args.config ?? "command line").responder;
  if (settings.listen.some((l) => l.startsWith("tls:")) && !settings.tls) {
    throw new UsageError(
      "--tls-cert",
      "a tls listener needs --tls-cert and --tls-key (or responder.tls.certFile and keyFile)",
    );
  }
  if (!settings.tls && (args["tls-ca"] !== undefined || args["tls-client-cert"] !== undefined)) {
    throw new UsageError(
      args["tls-ca"] !== undefined ? "--tls-ca" : "--tls-client-cert",
      "applies to tls listeners: give --tls-cert and --tls-key too",
    );
  }
  return settings;
}

function readFileOrFail(where: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(where, [
      { path, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` },
    ]);
  }
}

/** `probe112 responder`: the test answering point. */
export function responderCommand(setExit: (code: number) => void): CommandModule<object, ResponderArgs> {
  return {
    command: "responder",
    describe:
      "Run the test answering point: answers RFC 6881 §15 test calls, mirrors media, confirms each call",
    builder: (y: Argv) =>
      y
        .option("config", { type: "string", describe: "YAML configuration (flags below override it)" })
        .option("listen", {
          type: "string",
          array: true,
          describe: "Listener PROTO:IP:PORT, PROTO udp, tcp or tls (repeatable)",
        })
        .option("metrics", { type: "string", describe: "Serve /metrics, /-/healthy and /-/ready on IP:PORT" })
        .option("allow", {
          type: "string",
          array: true,
          describe: "Network (CIDR) whose callers get a test without a signed token (repeatable)",
        })
        .option("name", {
          type: "string",
          describe: "Name of this answering point, returned in the identity body",
        })
        .option("destination", {
          type: "string",
          array: true,
          describe:
            "A number or urn:service:test.sos[.sub] to answer (repeatable; default 112 and urn:service:test.sos)",
        })
        .option("advertised-address", {
          type: "string",
          describe: "Address for Contact, Via and SDP when listening on a wildcard or behind NAT",
        })
        .option("tls-cert", { type: "string", describe: "Certificate (PEM) for tls listeners" })
        .option("tls-key", { type: "string", describe: "Private key (PEM) for tls listeners" })
        .option("tls-ca", {
          type: "string",
          describe: "CA (PEM) that signs client certificates for mutual TLS",
        })
        .option("tls-client-cert", {
          choices: ["none", "optional", "required"] as const,
          describe: "Ask TLS clients for a certificate; a verified one is a way in",
        })
        .option("journal-dir", {
          type: "string",
          describe: "Write one JSON line per call received to daily files here",
        })
        .option("hold", {
          type: "number",
          describe: "Seconds after answer before we hang up if the caller has not (default 30)",
        })
        .option("ring-ms", { type: "number", describe: "Ring this long (180) before answering (default 0)" })
        .option("media", {
          choices: ["loopback", "echo", "none"] as const,
          describe: "Mirror the caller's media (default loopback; echo is the same for non-RFC 6849 callers)",
        })
        .option("max-concurrent", { type: "number", describe: "Test calls at once before 486 (default 20)" })
        .option("max-concurrent-per-caller", {
          type: "number",
          describe:
            "Test calls one caller (agent, else source address) may hold at once before 486 (default: a quarter of --max-concurrent)",
        })
        .option("per-caller-per-minute", {
          type: "number",
          describe: "Tests per caller per minute before 486 (default 30)",
        })
        .example(
          "$0 responder --listen udp:0.0.0.0:5060 --allow 10.0.0.0/8 --metrics 127.0.0.1:9112",
          "Answer test calls from a provider network",
        )
        .example(
          "$0 responder --config /etc/probe112/responder.yaml",
          "Everything from a configuration file",
        ) as unknown as Argv<ResponderArgs>,
    handler: async (args) => {
      const logger = createLogger(args["log-level"], args["log-format"]);
      let settings: ResponderConfig;
      try {
        settings = responderSettings(args);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`probe112 responder: invalid configuration\n${e.describe()}\n`);
          setExit(EXIT.usage);
          return;
        }
        throw e;
      }
      let agents: Array<{ agent: (typeof settings.access.agents)[number]; secret: string }>;
      let digestUsers: Map<string, string> | undefined;
      let tls:
        | { cert: string; key: string; ca?: string; clientCert: "none" | "optional" | "required" }
        | undefined;
      try {
        agents = settings.access.agents.map((agent, i) => ({
          agent,
          secret: readSecret(agent.secret, `responder.access.agents[${i}].secret`),
        }));
        if (settings.access.digest) {
          digestUsers = new Map(
            settings.access.digest.users.map((u, i) => [
              u.username,
              readSecret(u.password, `responder.access.digest.users[${i}].password`),
            ]),
          );
        }
        if (settings.tls) {
          const where = args.config ?? "command line";
          const ca = settings.tls.caFile ? readFileOrFail(where, settings.tls.caFile) : undefined;
          tls = {
            cert: readFileOrFail(where, settings.tls.certFile),
            key: readFileOrFail(where, settings.tls.keyFile),
            ...(ca ? { ca } : {}),
            clientCert: settings.tls.requireClientCert
              ? "required"
              : (args["tls-client-cert"] ?? (ca ? "optional" : "none")),
          };
        }
      } catch (e) {
        if (e instanceof SecretError || e instanceof ConfigError) {
          process.stderr.write(
            `probe112 responder: ${e instanceof ConfigError ? e.describe() : e.message}\n`,
          );
          setExit(EXIT.usage);
          return;
        }
        throw e;
      }
      if (
        settings.access.allow.length === 0 &&
        agents.length === 0 &&
        !digestUsers &&
        tls?.clientCert !== "optional" &&
        tls?.clientCert !== "required"
      ) {
        logger.warn(
          "no caller can get a test: give --allow CIDR, agents with token secrets, digest users or a TLS client CA",
        );
      }
      const metrics = new ResponderMetrics(
        settings.access.agents.flatMap((a) =>
          Object.values(a.paths).map((p) => ({ agent: a.id, path: p.name })),
        ),
      );
      let journal: Journal | undefined;
      try {
        journal = settings.journalDir
          ? new Journal(
              settings.journalDir,
              "responder",
              settings.journalKeyFile ? loadJournalKey(settings.journalKeyFile) : undefined,
            )
          : undefined;
      } catch (e) {
        process.stderr.write(`probe112 responder: ${(e as Error).message}\n`);
        setExit(EXIT.usage);
        return;
      }
      let responder: Responder;
      try {
        responder = await Responder.start({
          name: settings.name,
          listen: settings.listen.map((l) => parseListen(l)!),
          advertisedAddress: settings.advertisedAddress,
          tls,
          destinations: settings.destinations,
          ringMs: settings.answer.ringMs,
          holdSeconds: settings.answer.holdSeconds,
          media: settings.answer.media,
          maxConcurrent: settings.limits.concurrentTests,
          maxConcurrentPerCaller: settings.limits.concurrentPerCaller,
          perCallerPerMinute: settings.limits.perCallerPerMinute,
          allow: settings.access.allow,
          agents,
          digest:
            digestUsers && settings.access.digest
              ? { realm: settings.access.digest.realm, users: digestUsers }
              : undefined,
          journal,
          metrics,
          logger,
        });
      } catch (e) {
        process.stderr.write(`probe112 responder: cannot start: ${(e as Error).message}\n`);
        setExit(EXIT.failed);
        return;
      }
      const http = settings.metrics
        ? await startMetricsServer({
            ...parseHostPort(settings.metrics)!,
            registries: [metrics.registry],
            ready: () => true,
          })
        : undefined;
      logger.info(
        { listeners: responder.listeners, metrics: http?.address, destinations: settings.destinations },
        "answering point ready",
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      logger.info("stopping: hanging up open test calls");
      await responder.stop();
      await http?.close();
      await journal?.close();
      setExit(EXIT.ok);
    },
  };
}
