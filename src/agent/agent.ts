import type { Logger } from "pino";
import { type AgentConfig, type CheckSpec, expandChecks } from "../config/agent-config.js";
import { parseHostPort } from "../config/common-schema.js";
import { readSecret } from "../config/secrets.js";
import { AgentMetrics } from "../metrics/agent-metrics.js";
import { CellBroadcastMetrics } from "../metrics/cell-broadcast-metrics.js";
import { type MetricsServer, startMetricsServer } from "../metrics/metrics-server.js";
import { CellBroadcastProbe } from "../probes/cell-broadcast-probe.js";
import { SipCallProbe } from "../probes/sip-call-probe.js";
import { Journal } from "../results/journal.js";
import { loadJournalKey } from "../results/keys.js";
import type { Attempt, CellBroadcastResult, SipCallResult } from "../results/result.js";
import { handleApi } from "./http-api.js";
import { inMaintenance } from "./maintenance.js";
import { ResultStore } from "./result-store.js";
import { type RunOutcome, Scheduler, type SchedulerClock, systemClock } from "./scheduler.js";

export interface AgentStartOptions {
  readonly config: AgentConfig;
  readonly logger: Logger;
  /** Overrides agent.http.listen (the demo picks its own port). */
  readonly httpListen?: string;
  readonly clock?: SchedulerClock;
  readonly startupDelayMaxMs?: number;
}

/** Secrets the agent needs at (re)load time; call credentials are read per call. */
interface LoadedSecrets {
  readonly signing: { number: number; secret: string } | undefined;
  readonly sweepToken: string | undefined;
}

function loadSecrets(c: AgentConfig): LoadedSecrets {
  const a = c.agent;
  return {
    signing:
      a.number !== undefined && a.tokenSecret
        ? { number: a.number, secret: readSecret(a.tokenSecret, "agent.tokenSecret") }
        : undefined,
    sweepToken: a.http.sweepToken ? readSecret(a.http.sweepToken, "agent.http.sweepToken") : undefined,
  };
}

/**
 * The agent: config → probes → scheduler, and every result through the same sinks in the same
 * order: journal first (durable before anything reports it), then metrics and the in-memory
 * store behind the API and the status page.
 */
export class Agent {
  readonly metrics: AgentMetrics;
  readonly cbMetrics: CellBroadcastMetrics;
  readonly results = new ResultStore();
  private checks: CheckSpec[] = [];
  private probes = new Map<string, SipCallProbe>();
  /** Cell-broadcast probes, one per modem, and the modem configuration they were built from. */
  private modemProbes: CellBroadcastProbe[] = [];
  private modemConfig = "[]";
  private modemsChanging: Promise<void> = Promise.resolve();
  private secrets: LoadedSecrets;
  private http: MetricsServer | undefined;
  private ready = false;

  private constructor(
    private config: AgentConfig,
    private readonly logger: Logger,
    private readonly scheduler: Scheduler,
    private readonly journal: Journal | undefined,
    secrets: LoadedSecrets,
  ) {
    this.metrics = new AgentMetrics(config.agent);
    this.cbMetrics = new CellBroadcastMetrics(this.metrics.registry);
    this.secrets = secrets;
  }

  /** Builds the agent, binds its HTTP face and starts probing. */
  static async start(o: AgentStartOptions): Promise<Agent> {
    const secrets = loadSecrets(o.config);
    const a = o.config.agent;
    const journal = a.journalDir
      ? new Journal(a.journalDir, "agent", a.journalKeyFile ? loadJournalKey(a.journalKeyFile) : undefined)
      : undefined;
    let agent: Agent | undefined;
    const scheduler = new Scheduler(
      {
        run: (check, target, attempt, signal) => agent!.runOne(check, target, attempt, signal),
        skipped: (check, reason) => agent?.metrics.skipped.inc({ check, reason }),
        lag: (s) => agent?.metrics.schedulerLag.observe(s),
        state: (check, up) => {
          agent?.metrics.setUp(check, up);
          agent?.logger[up ? "info" : "warn"](
            { check },
            up ? "check recovered" : "check down: failure confirmed",
          );
        },
        inMaintenance: (check, at) => inMaintenance(agent!.config.agent.maintenance, check, at),
      },
      {
        agentId: o.config.agent.id,
        maxCallsPerMinute: o.config.agent.maxCallsPerMinute,
        ...(o.startupDelayMaxMs !== undefined ? { startupDelayMaxMs: o.startupDelayMaxMs } : {}),
      },
      o.clock ?? systemClock,
    );
    agent = new Agent(o.config, o.logger, scheduler, journal, secrets);
    agent.apply(o.config);
    agent.metrics.reloadOk.set(1);
    agent.metrics.reloadTime.set(Date.now() / 1000);
    const listen = parseHostPort(o.httpListen ?? o.config.agent.http.listen)!;
    agent.http = await startMetricsServer({
      ...listen,
      registries: [agent.metrics.registry],
      ready: () => agent!.ready,
      routes: (req, res) => handleApi(agent!, req, res),
    });
    scheduler.start();
    agent.ready = true;
    return agent;
  }

  /** Where the HTTP face listens. */
  get address(): { host: string; port: number } | undefined {
    return this.http?.address;
  }

  get configuration(): AgentConfig {
    return this.config;
  }

  get checkSpecs(): readonly CheckSpec[] {
    return this.checks;
  }

  /** The bearer token for the sweep API, when one is configured. */
  get sweepToken(): string | undefined {
    return this.secrets.sweepToken;
  }

  isUp(check: string): boolean | undefined {
    return this.scheduler.isUp(check);
  }

  nextRuns(): Map<string, number> {
    return new Map(this.scheduler.schedule().map((s) => [s.check, s.nextAt]));
  }

  /**
   * Switches to a new configuration (SIGHUP). Secrets are read first: if that fails the old
   * configuration keeps running and the error says why.
   */
  reload(next: AgentConfig): void {
    try {
      const secrets = loadSecrets(next);
      this.secrets = secrets;
      this.config = next;
      this.apply(next);
      this.metrics.reloadOk.set(1);
      this.metrics.reloadTime.set(Date.now() / 1000);
    } catch (e) {
      this.metrics.reloadOk.set(0);
      throw e;
    }
  }

  /** Runs every check now and returns the results (API sweep). */
  async sweep(): Promise<SipCallResult[]> {
    const before = new Set(this.results.recent(10_000).map((r) => r.id));
    await this.scheduler.sweep();
    return this.results.recent(10_000).filter((r) => !before.has(r.id) && r.attempt !== "fallback");
  }

  /** Ends in-flight calls cleanly (CANCEL or BYE) and closes everything. */
  async stop(): Promise<void> {
    this.ready = false;
    await this.scheduler.stop();
    await this.modemsChanging;
    await Promise.all(this.modemProbes.map((p) => p.stop()));
    this.modemProbes = [];
    await this.http?.close();
    await this.journal?.close();
  }

  private apply(c: AgentConfig): void {
    this.checks = expandChecks(c);
    const ctx = { agent: c.agent.id, signing: this.secrets.signing, logger: this.logger };
    this.probes = new Map();
    for (const spec of this.checks) {
      this.probes.set(spec.name, new SipCallProbe(spec, ctx));
      for (const fb of spec.destination.fallbacks) {
        const dest = c.destinations.find((d) => d.id === fb)!;
        const probe = new SipCallProbe(spec, ctx, dest);
        this.probes.set(`${spec.name}>${probe.check}`, probe);
      }
    }
    this.metrics.declareChecks(this.checks);
    this.applyModems(c);
    this.results.retain(new Set(this.checks.map((s) => s.name)));
    this.scheduler.setChecks(
      this.checks.map((s) => ({
        name: s.name,
        intervalMs: s.intervalSeconds * 1000,
        confirmAfterMs: s.confirmAfterSeconds * 1000,
        fallbacks: s.destination.fallbacks.map((fb) => `${s.path.id}.${fb}`),
      })),
    );
  }

  private async runOne(
    check: string,
    target: string,
    attempt: Attempt,
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const probe = target === check ? this.probes.get(check) : this.probes.get(`${check}>${target}`);
    if (!probe) return { success: false, probeError: true };
    const result = await probe.run({ attempt, signal });
    await this.publish(result);
    return { success: result.success, probeError: result.outcome === "probe_error" };
  }

  /** Restarts the cell-broadcast probes when the modems changed (the ports are reopened). */
  private applyModems(c: AgentConfig): void {
    const modems = c.modems ?? [];
    const key = JSON.stringify(modems);
    if (key === this.modemConfig) return;
    this.modemConfig = key;
    const old = this.modemProbes;
    const ctx = { agent: c.agent.id, logger: this.logger };
    this.modemProbes = modems.map((m) => new CellBroadcastProbe(m, ctx));
    this.cbMetrics.declareModems(modems);
    const started = this.modemProbes;
    // The old probes must let go of their ports before the new ones open them.
    this.modemsChanging = this.modemsChanging
      .then(() => Promise.all(old.map((p) => p.stop())))
      .then(() => {
        for (const p of started) p.start((r) => void this.publishCellBroadcast(r));
      });
  }

  /** Cell-broadcast results take the same path as calls: journal first, then metrics. */
  private async publishCellBroadcast(r: CellBroadcastResult): Promise<void> {
    try {
      await this.journal?.append("result", { ...r });
    } catch (e) {
      this.metrics.journalErrors.inc();
      this.logger.error(
        { err: (e as Error).message, check: r.check },
        "could not write the result to the journal",
      );
    }
    this.cbMetrics.record(r);
  }

  /** Journal first, durably; then metrics and the store. A journal failure never stops probing. */
  private async publish(r: SipCallResult): Promise<void> {
    try {
      await this.journal?.append("result", journalRecord(r));
    } catch (e) {
      this.metrics.journalErrors.inc();
      this.logger.error(
        { err: (e as Error).message, check: r.check },
        "could not write the result to the journal",
      );
    }
    this.metrics.record(r);
    this.results.add(r);
    const level = r.success ? "info" : r.outcome === "probe_error" ? "error" : "warn";
    this.logger[level](
      {
        check: r.check,
        attempt: r.attempt,
        outcome: r.outcome,
        success: r.success,
        srd: r.call.timings.srd,
        media: r.verification.media,
      },
      r.success ? "call ok" : `call failed: ${r.reason}`,
    );
  }
}

/** What goes in the journal: everything, but the SIP messages only for failed calls. */
function journalRecord(r: SipCallResult): Record<string, unknown> {
  if (!r.success) return { ...r };
  const { trace: _trace, ...call } = r.call;
  return { ...r, call };
}
