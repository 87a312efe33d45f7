import type { Argv, CommandModule } from "yargs";
import { Agent } from "../agent/agent.js";
import { type AgentConfig, agentConfigSchema } from "../config/agent-config.js";
import { ConfigError, loadConfigFile } from "../config/load.js";
import { SecretError } from "../config/secrets.js";
import { createLogger, type LogFormat, type LogLevel } from "../log.js";
import { EXIT } from "./usage-error.js";

interface AgentArgs {
  config: string;
  http?: string;
  "log-level": LogLevel;
  "log-format": LogFormat;
}

/** Waits for SIGINT/SIGTERM; SIGHUP calls `onHup` meanwhile. */
export function untilStopped(onHup?: () => void): Promise<void> {
  return new Promise((resolve) => {
    const hup = () => onHup?.();
    if (onHup) process.on("SIGHUP", hup);
    const done = () => {
      process.off("SIGHUP", hup);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

/** `probe112 agent`: scheduled probing of every configured path. */
export function agentCommand(setExit: (code: number) => void): CommandModule<object, AgentArgs> {
  return {
    command: "agent",
    describe:
      "Run the agent: scheduled test calls over every provider path, metrics, journal, API and status page",
    builder: (y: Argv) =>
      y
        .option("config", {
          type: "string",
          demandOption: true,
          describe: "Agent configuration (YAML); `probe112 config check` validates it",
        })
        .option("http", {
          type: "string",
          describe: "Override agent.http.listen (IP:PORT for /metrics, the API and the status page)",
        })
        .epilogue(
          "Signals: SIGHUP reloads the configuration (a bad one is refused and the old one keeps running); SIGTERM or SIGINT ends calls in progress cleanly and exits.",
        )
        .example(
          "$0 agent --config /etc/probe112/agent.yaml",
          "Probe as configured",
        ) as unknown as Argv<AgentArgs>,
    handler: async (args) => {
      const logger = createLogger(args["log-level"], args["log-format"]);
      let config: AgentConfig;
      let agent: Agent;
      try {
        config = loadConfigFile(args.config, agentConfigSchema);
        agent = await Agent.start({ config, logger, ...(args.http ? { httpListen: args.http } : {}) });
      } catch (e) {
        if (e instanceof ConfigError || e instanceof SecretError) {
          process.stderr.write(
            `probe112 agent: invalid configuration\n${e instanceof ConfigError ? e.describe() : e.message}\n`,
          );
          setExit(EXIT.usage);
          return;
        }
        process.stderr.write(`probe112 agent: cannot start: ${(e as Error).message}\n`);
        setExit(EXIT.failed);
        return;
      }
      const a = agent.address;
      logger.info(
        { checks: agent.checkSpecs.length, http: a, status: a ? `http://${a.host}:${a.port}/` : undefined },
        "agent ready",
      );
      await untilStopped(() => {
        try {
          agent.reload(loadConfigFile(args.config, agentConfigSchema));
          logger.info({ checks: agent.checkSpecs.length }, "configuration reloaded");
        } catch (e) {
          agent.metrics.reloadOk.set(0);
          const why = e instanceof ConfigError ? e.describe() : (e as Error).message;
          logger.error({ problems: why }, "new configuration refused; the old one keeps running");
        }
      });
      logger.info("stopping: ending calls in progress");
      await agent.stop();
      setExit(EXIT.ok);
    },
  };
}
