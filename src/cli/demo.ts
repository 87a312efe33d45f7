import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { existsSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { Agent } from "../agent/agent.js";
import { type AgentConfig, agentConfigSchema } from "../config/agent-config.js";
import { parseHostPort } from "../config/common-schema.js";
import { validateConfig } from "../config/load.js";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { startMetricsServer } from "../metrics/metrics-server.js";
import { ResponderMetrics } from "../metrics/responder-metrics.js";
import { Responder } from "../responder/responder.js";
import { Journal } from "../results/journal.js";
import { generateJournalKeys, loadJournalKey } from "../results/keys.js";
import { untilStopped } from "./agent.js";
import { EXIT, UsageError } from "./usage-error.js";

interface DemoArgs {
  "agent-http": string;
  "responder-metrics": string;
  interval: number;
  duration?: number;
  "data-dir"?: string;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

const SECRET_ENV = "PROBE112_DEMO_TOKEN_SECRET";

/** A port free for both UDP and TCP on the address, so one number serves both listeners. */
async function freeSipPort(host: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const udp = dgram.createSocket("udp4");
    const port = await new Promise<number>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(0, host, () => resolve(udp.address().port));
    });
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    });
    udp.close();
    if (ok) return port;
  }
  throw new Error(`no port free for both UDP and TCP on ${host}`);
}

/** Where the demo keeps its journals and keys: keys are made once and reused on later runs. */
function demoDataDir(dir: string) {
  const keys = join(dir, "keys");
  const side = (name: string) => {
    const keyFile = join(keys, `${name}.key`);
    if (!existsSync(keyFile)) generateJournalKeys(keys, name);
    return { journalDir: join(dir, name), keyFile };
  };
  return { agent: side("agent"), responder: side("responder") };
}

/** The demo's agent: two providers (one over UDP, one over TCP), three destinations on the local answering point. */
export function demoAgentConfig(
  sipPort: number,
  intervalSeconds: number,
  httpListen: string,
  journal?: { journalDir: string; keyFile: string },
): AgentConfig {
  const at = (user: string) => `sip:${user}@127.0.0.1:${sipPort};user=phone`;
  return validateConfig(
    {
      agent: {
        id: "demo-agent",
        operator: "demo",
        region: "loopback",
        number: 1001,
        tokenSecret: { env: SECRET_ENV },
        http: { listen: httpListen },
        maxCallsPerMinute: 60,
        ...(journal ? { journalDir: journal.journalDir, journalKeyFile: journal.keyFile } : {}),
      },
      providers: [
        { id: "provider-a", name: "Provider A (VoIP over UDP)" },
        { id: "provider-b", name: "Provider B (fixed line over TCP)" },
      ],
      paths: [
        {
          id: "provider-a-voip",
          number: 1,
          provider: "provider-a",
          access: "voip",
          transport: "udp",
          callerId: "+31201110001",
        },
        {
          id: "provider-b-fixed",
          number: 2,
          provider: "provider-b",
          access: "fixed",
          transport: "tcp",
          proxy: `sip:127.0.0.1:${sipPort};transport=tcp`,
          callerId: "+31201110002",
        },
      ],
      destinations: [
        {
          id: "test-112",
          uri: at("112"),
          role: "test112",
          expectIdentity: "probe112 demo answering point",
          fallbacks: ["fallback-088"],
        },
        {
          id: "police-0900",
          uri: at("09008844"),
          role: "police",
          expectIdentity: "probe112 demo answering point",
        },
        { id: "fallback-088", uri: at("0881234567"), role: "fallback" },
      ],
      checks: [
        {
          paths: ["provider-a-voip", "provider-b-fixed"],
          destinations: ["test-112", "police-0900"],
          interval: intervalSeconds,
          timeout: Math.min(30, Math.max(8, intervalSeconds - 1)),
          hold: 2,
          media: "loopback",
          confirmAfter: Math.min(5, intervalSeconds / 2),
        },
      ],
    },
    agentConfigSchema,
    "built-in demo configuration",
  );
}

/** `probe112 demo`: an answering point and an agent on loopback, the whole loop on one machine. */
export function demoCommand(setExit: (code: number) => void): CommandModule<object, DemoArgs> {
  return {
    command: "demo",
    describe:
      "Run an answering point and an agent on loopback with a built-in configuration: the whole loop on one machine",
    builder: (y: Argv) =>
      y
        .option("agent-http", {
          type: "string",
          default: "127.0.0.1:9113",
          describe: "Agent status page, API and /metrics",
        })
        .option("responder-metrics", {
          type: "string",
          default: "127.0.0.1:9112",
          describe: "Answering point /metrics",
        })
        .option("interval", {
          type: "number",
          default: 10,
          describe: "Seconds between the calls of each check",
        })
        .option("data-dir", {
          type: "string",
          describe:
            "Keep signed journals and the signing keys here (made on first use), so that 'probe112 journal verify' can be tried on real data",
        })
        .option("duration", {
          type: "number",
          describe: "Stop after this many seconds (default: run until Ctrl-C)",
        }) as unknown as Argv<DemoArgs>,
    handler: async (args) => {
      const logger = createLogger(args["log-level"], args["log-format"]);
      const responderMetrics = parseHostPort(args["responder-metrics"]);
      if (!parseHostPort(args["agent-http"]))
        throw new UsageError("--agent-http", "expected IP:PORT, e.g. 127.0.0.1:9113");
      if (!responderMetrics)
        throw new UsageError("--responder-metrics", "expected IP:PORT, e.g. 127.0.0.1:9112");
      if (!(args.interval >= 5)) throw new UsageError("--interval", "at least 5 seconds");
      process.env[SECRET_ENV] ??= randomBytes(24).toString("base64url");
      const sipPort = await freeSipPort("127.0.0.1");
      const data = args["data-dir"] ? demoDataDir(args["data-dir"]) : undefined;
      const agentConfig = demoAgentConfig(sipPort, args.interval, args["agent-http"], data?.agent);
      const metrics = new ResponderMetrics([
        { agent: "demo-agent", path: "provider-a-voip" },
        { agent: "demo-agent", path: "provider-b-fixed" },
      ]);
      const responder = await Responder.start({
        name: "probe112 demo answering point",
        listen: [
          { protocol: "udp", host: "127.0.0.1", port: sipPort },
          { protocol: "tcp", host: "127.0.0.1", port: sipPort },
        ],
        destinations: ["112", "09008844", "0881234567", "urn:service:test.sos"],
        ringMs: 200,
        holdSeconds: 30,
        media: "loopback",
        maxConcurrent: 20,
        perCallerPerMinute: 60,
        allow: [],
        agents: [
          {
            agent: {
              id: "demo-agent",
              number: 1001,
              secret: { env: SECRET_ENV },
              paths: {
                "01": { name: "provider-a-voip", callerId: "+31201110001" },
                "02": { name: "provider-b-fixed", callerId: "+31201110002" },
              },
            },
            secret: process.env[SECRET_ENV]!,
          },
        ],
        journal: data
          ? new Journal(data.responder.journalDir, "responder", loadJournalKey(data.responder.keyFile))
          : undefined,
        metrics,
        logger: logger.child({ role: "responder" }),
      });
      const responderHttp = await startMetricsServer({
        ...responderMetrics,
        registries: [metrics.registry],
        ready: () => true,
      });
      const agent = await Agent.start({
        config: agentConfig,
        logger: logger.child({ role: "agent" }),
        startupDelayMaxMs: 2000,
      });
      const a = agent.address!;
      const base = `http://${a.host}:${a.port}`;
      process.stdout.write(
        [
          "probe112 demo is running (Ctrl-C to stop)",
          `  answering point   sip:112@127.0.0.1:${sipPort} (UDP and TCP), metrics http://${responderMetrics.host}:${responderMetrics.port}/metrics`,
          `  agent             ${agent.checkSpecs.length} checks (2 providers × 2 destinations, fallback 088), every ${args.interval} s`,
          `  status page       ${base}/`,
          `  agent metrics     ${base}/metrics`,
          `  recent results    ${base}/api/v1/results`,
          `  try               curl -s ${base}/metrics | grep '^probe112_probe_success'`,
          ...(data
            ? [
                `  journals          ${data.agent.journalDir}, ${data.responder.journalDir} (signed)`,
                `  verify            probe112 journal verify ${data.agent.journalDir} --key ${data.agent.keyFile.replace(/\.key$/, ".pub")}`,
                `  cross-confirm     probe112 journal match --agent ${data.agent.journalDir} --responder ${data.responder.journalDir}`,
              ]
            : []),
          "",
        ].join("\n"),
      );
      const timer = args.duration
        ? setTimeout(() => process.kill(process.pid, "SIGTERM"), args.duration * 1000)
        : undefined;
      await untilStopped();
      clearTimeout(timer);
      await agent.stop();
      await responder.stop();
      await responderHttp.close();
      setExit(EXIT.ok);
    },
  };
}
