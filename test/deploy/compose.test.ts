import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type ComposeFile, flagValue, hostPath, type Mount, materialize, mountsOf } from "./compose-view.js";
import { checkDeployedConfig } from "./config-check.js";
import { DEPLOY, ROOT, readYaml } from "./deploy-files.js";
import { tool } from "./tool.js";

// deploy/docker-compose.yml without Docker (the test machines run no engine): every file it mounts exists,
// every configuration a service gets passes its own tool (probe112 config check with the secrets
// the service is given, promtool, amtool), and the services' addresses, ports and labels agree.

const COMPOSE_DIR = DEPLOY;
const compose = readYaml<ComposeFile>(join(COMPOSE_DIR, "docker-compose.yml"), { merge: true });
const services = compose.services;
const scratch = mkdtempSync(join(tmpdir(), "p112-compose-"));
const secretsDir = join(scratch, "secrets");
const view = (name: string): Mount[] => mountsOf(compose, services[name]!, COMPOSE_DIR, secretsDir);
/** Services that run the probe112 image, with the configuration file each is given. */
const probe112 = Object.entries(services)
  .filter(([, s]) => s.build !== undefined)
  .map(([name, s]) => ({ name, role: s.command![0]!, config: flagValue(s.command, "--config")! }));

beforeAll(async () => {
  const r = await tool(join(COMPOSE_DIR, "compose/make-secrets"), [secretsDir]);
  expect(r.code, r.output).toBe(0);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the compose file", () => {
  it("runs an answering point, two agents and the central stack", () => {
    expect(probe112.map((p) => p.role).sort()).toEqual(["agent", "agent", "responder"]);
    for (const s of ["prometheus", "alertmanager", "grafana", "webhook"])
      expect(services[s], s).toBeDefined();
  });

  it("builds probe112 from the repository's Dockerfile and pins every other image", () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        expect(existsSync(join(COMPOSE_DIR, s.build.context, s.build.dockerfile ?? "Dockerfile")), name).toBe(
          true,
        );
      } else {
        expect(s.image, name).toMatch(/^[a-z0-9./_-]+:v?\d+(\.\d+)*(-[a-z0-9-]+)?$/);
      }
    }
  });

  it("mounts only files that exist, volumes and secrets that are declared", () => {
    for (const [name] of Object.entries(services)) {
      for (const m of view(name)) {
        if (m.volume?.startsWith("undeclared")) throw new Error(`${name}: ${m.volume}`);
        if (m.source) expect(existsSync(m.source), `${name}: ${m.target} from ${m.source}`).toBe(true);
        else expect(compose.volumes, `${name}: volume ${m.volume}`).toHaveProperty([m.volume!]);
      }
    }
  });

  it("hands secrets in as files, never as values", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|TOKEN|SECRET|KEY/.test(k))
          expect(k, `${name}: ${k} must name a file`).toMatch(/_FILE$/);
        else expect(String(v)).not.toMatch(/^[0-9a-f]{32,}$/);
      }
    }
    const rel = join("deploy/compose/secrets", "agent-a-token");
    expect(Object.values(compose.secrets ?? {}).every((x) => x.file.startsWith("./compose/secrets/"))).toBe(
      true,
    );
    // git would never take a secret made there.
    return tool("git", ["-C", ROOT, "check-ignore", "-q", rel]).then((r) =>
      expect(r.code, `${rel} ignored`).toBe(0),
    );
  });

  it("make-secrets makes every secret the compose file declares, random, and keeps them on a second run", async () => {
    const declared = Object.values(compose.secrets ?? {}).map((x) => x.file.split("/").pop()!);
    expect(readdirSync(secretsDir).sort()).toEqual([...declared].sort());
    const values = declared.map((f) => readFileSync(join(secretsDir, f), "utf8").trim());
    for (const v of values) expect(v).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(values).size).toBe(values.length);
    expect(statSync(secretsDir).mode & 0o777).toBe(0o700);
    const again = await tool(join(COMPOSE_DIR, "compose/make-secrets"), [secretsDir]);
    expect(again.code).toBe(0);
    expect(declared.map((f) => readFileSync(join(secretsDir, f), "utf8").trim())).toEqual(values);
  });
});

describe("each service's configuration, as the service sees it", () => {
  it("the agents and the answering point: probe112 config check passes with the secrets each is given", async () => {
    for (const p of probe112) {
      const file = hostPath(view(p.name), p.config);
      expect(file, `${p.name}: ${p.config} is not mounted`).toBeDefined();
      const r = await checkDeployedConfig(readFileSync(file!, "utf8"), (x) => hostPath(view(p.name), x));
      expect(r.unprovided, `${p.name}: secrets it is not given`).toEqual([]);
      expect(r.code, `${p.name}: ${r.output}`).toBe(0);
      expect(r.output).toMatch(new RegExp(`OK \\(${p.role}`));
    }
  });

  it("an agent whose secret the compose file does not hand in fails that check", async () => {
    const agent = probe112.find((p) => p.role === "agent")!;
    const text = readFileSync(hostPath(view(agent.name), agent.config)!, "utf8");
    const withoutSweep = (x: string) =>
      x.endsWith("sweep-token") ? undefined : hostPath(view(agent.name), x);
    const r = await checkDeployedConfig(text, withoutSweep);
    expect(r.unprovided).toEqual(["/run/secrets/sweep-token"]);
    expect(r.code).toBe(2);
  });

  it("agents and answering point share token secrets, and agree on agent ids and path numbers", () => {
    const responder = probe112.find((p) => p.role === "responder")!;
    const rconf = parse(readFileSync(hostPath(view(responder.name), responder.config)!, "utf8")) as {
      responder: {
        access: {
          agents: Array<{
            id: string;
            number: number;
            secret: { file: string };
            paths: Record<string, { name: string }>;
          }>;
        };
      };
    };
    for (const a of probe112.filter((p) => p.role === "agent")) {
      const conf = parse(readFileSync(hostPath(view(a.name), a.config)!, "utf8")) as {
        agent: { id: string; number: number; tokenSecret: { file: string } };
        paths: Array<{ id: string; number: number }>;
      };
      const known = rconf.responder.access.agents.find((x) => x.id === conf.agent.id);
      expect(known, `the answering point knows ${conf.agent.id}`).toBeDefined();
      expect(known!.number).toBe(conf.agent.number);
      expect(hostPath(view(responder.name), known!.secret.file)).toBe(
        hostPath(view(a.name), conf.agent.tokenSecret.file),
      );
      for (const p of conf.paths)
        expect(known!.paths[String(p.number).padStart(2, "0")]?.name, `${a.name} path ${p.id}`).toBe(p.id);
    }
  });

  it("Prometheus: promtool check config passes on the files the container gets, targets match the agents", async () => {
    const root = join(scratch, "prometheus-root");
    const mounts = view("prometheus");
    materialize(mounts, "/etc/prometheus", root);
    const config = flagValue(services.prometheus!.command, "--config.file")!;
    const r = await tool("promtool", ["check", "config", join(root, config)]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: 2 rule files found/);
    const prom = parse(readFileSync(join(root, config), "utf8")) as {
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    };
    for (const t of prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets)))
      expect(services[t.split(":")[0]!], `alertmanager target ${t}`).toBeDefined();
    // Each agent target is a compose agent, on its HTTP port, labelled with its own id.
    const targets = readYaml<Array<{ targets: string[]; labels: Record<string, string> }>>(
      join(root, "etc/prometheus/targets/agents.yml"),
    );
    const agents = probe112.filter((p) => p.role === "agent");
    expect(targets.flatMap((t) => t.targets)).toHaveLength(agents.length);
    for (const t of targets) {
      const [host, port] = t.targets[0]!.split(":");
      const a = agents.find((x) => x.name === host);
      expect(a, `target ${host} is an agent service`).toBeDefined();
      const conf = parse(readFileSync(hostPath(view(a!.name), a!.config)!, "utf8")) as {
        agent: { id: string; http: { listen: string } };
      };
      expect(t.labels.agent).toBe(conf.agent.id);
      expect(conf.agent.http.listen).toBe(`0.0.0.0:${port}`);
    }
    const responders = readYaml<Array<{ targets: string[]; labels: Record<string, string> }>>(
      join(root, "etc/prometheus/targets/responders.yml"),
    );
    for (const t of responders) {
      expect(t.labels).not.toHaveProperty("agent");
      const [host, port] = t.targets[0]!.split(":");
      const r2 = probe112.find((x) => x.name === host && x.role === "responder")!;
      const conf = parse(readFileSync(hostPath(view(r2.name), r2.config)!, "utf8")) as {
        responder: { metrics: string };
      };
      expect(conf.responder.metrics).toBe(`0.0.0.0:${port}`);
      expect(services[r2.name]!.environment?.PROBE112_HEALTH_URL).toBe(`http://127.0.0.1:${port}/-/healthy`);
    }
  });

  it("Alertmanager: amtool check-config passes, its token file is the webhook receiver's", async () => {
    const mounts = view("alertmanager");
    const config = hostPath(mounts, flagValue(services.alertmanager!.command, "--config.file")!)!;
    const r = await tool("amtool", ["check-config", config]);
    expect(r.code, r.output).toBe(0);
    const am = parse(readFileSync(config, "utf8")) as {
      receivers: Array<{
        webhook_configs?: Array<{
          url: string;
          http_config?: { authorization?: { credentials_file?: string } };
        }>;
      }>;
    };
    const webhook = services.webhook!;
    const listen = flagValue(webhook.command, "--listen")!;
    const tokenFile = hostPath(view("webhook"), flagValue(webhook.command, "--token-file")!);
    expect(tokenFile).toBeDefined();
    for (const w of am.receivers.flatMap((x) => x.webhook_configs ?? [])) {
      expect(new URL(w.url).host).toBe(`webhook:${listen.split(":")[1]}`);
      const cred = w.http_config?.authorization?.credentials_file;
      expect(cred && hostPath(mounts, cred), `${w.url}: credentials_file given to alertmanager`).toBe(
        tokenFile,
      );
    }
    const script = hostPath(view("webhook"), webhook.command![1]!);
    expect(script && existsSync(script)).toBe(true);
  });

  it("Grafana: provisioning is mounted, the dashboards are where the provider looks, data sources are services", () => {
    const mounts = view("grafana");
    const providers = readYaml<{ providers: Array<{ options: { path: string } }> }>(
      hostPath(mounts, "/etc/grafana/provisioning/dashboards/probe112.yml")!,
    ).providers;
    for (const p of providers) {
      const dir = hostPath(mounts, p.options.path);
      expect(dir, `dashboards at ${p.options.path}`).toBe(join(DEPLOY, "grafana/dashboards"));
      expect(readdirSync(dir!).filter((f) => f.endsWith(".json")).length).toBe(4);
    }
    const ds = readYaml<{ datasources: Array<{ url: string }> }>(
      hostPath(mounts, "/etc/grafana/provisioning/datasources/prometheus.yml")!,
    ).datasources;
    for (const d of ds) {
      const u = new URL(d.url);
      expect(services[u.hostname], d.url).toBeDefined();
      const port = u.port;
      const published = services[u.hostname]!.ports?.some((x) => x.endsWith(`:${port}`));
      expect(published, `${d.url}: the service's port`).toBe(true);
    }
    const env = services.grafana!.environment!;
    expect(hostPath(mounts, env.GF_SECURITY_ADMIN_PASSWORD__FILE!)).toBeDefined();
    expect(hostPath(mounts, env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!)).toBeDefined();
  });
});
