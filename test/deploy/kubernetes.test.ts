import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { type AgentRun, agentConfig, eventually, startAgent } from "../support/agent.js";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ResponderRun, startResponder } from "../support/responder.js";
import { flagValue } from "./compose-view.js";
import { checkDeployedConfig } from "./config-check.js";
import { DEPLOY, readYaml } from "./deploy-files.js";
import { type PrometheusProcess, runPrometheus } from "./run-prometheus.js";

// The Kubernetes manifests without a cluster (the test machines have none): their references hold together
// (selectors, ports, volumes, ConfigMaps, Secrets), the configurations in the ConfigMaps pass
// probe112 config check with the secrets the pods mount, and the scrape configuration's
// relabelling, run by a real Prometheus over file-discovered targets that carry the same
// __meta_kubernetes_* labels, gives the jobs and labels the rules expect.

const K8S = join(DEPLOY, "k8s");
const NAMESPACE = "probe112";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: Container[];
    securityContext?: Record<string, unknown>;
    volumes?: Array<{
      name: string;
      configMap?: { name: string };
      secret?: { secretName: string };
      persistentVolumeClaim?: { claimName: string };
      emptyDir?: unknown;
    }>;
  };
}

const files = readdirSync(K8S).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
const objects: Array<K8sObject & { file: string }> = files.flatMap((f) =>
  parseAllDocuments(readFileSync(join(K8S, f), "utf8")).map((d) => ({ ...(d.toJS() as K8sObject), file: f })),
);
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const deployments = objects.filter((o) => o.kind === "Deployment");
const podOf = (d: K8sObject) => (d.spec as { template: PodTemplate }).template;

describe("the manifests", () => {
  it("kustomization.yaml applies every manifest but the Secret template", () => {
    const k = readYaml<{ resources: string[] }>(join(K8S, "kustomization.yaml"));
    expect([...k.resources].sort()).toEqual(files.filter((f) => f !== "secrets.template.yaml").sort());
  });

  it("are objects of known kinds, named, in the probe112 namespace", () => {
    const known = [
      "v1/Namespace",
      "v1/ConfigMap",
      "v1/Secret",
      "v1/Service",
      "v1/PersistentVolumeClaim",
      "apps/v1/Deployment",
    ];
    for (const o of objects) {
      expect(known, `${o.file}: ${o.apiVersion}/${o.kind}`).toContain(`${o.apiVersion}/${o.kind}`);
      expect(o.metadata.name, o.file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (o.kind !== "Namespace")
        expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(NAMESPACE);
    }
    expect(find("Namespace", NAMESPACE)).toBeDefined();
  });

  it("the Secret template holds no secret: every value is empty", () => {
    const secrets = objects.filter((o) => o.kind === "Secret");
    expect(secrets.length).toBeGreaterThan(0);
    for (const s of secrets) {
      expect(s.data, s.metadata.name).toBeUndefined();
      for (const [k, v] of Object.entries(s.stringData ?? {})) expect(v, `${s.metadata.name} ${k}`).toBe("");
    }
  });

  it("Deployments: selectors, volumes, ports and probes hold together; pods run unprivileged", () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["probe112-agent", "probe112-responder"]);
    for (const d of deployments) {
      const name = d.metadata.name;
      const selector = (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      const pod = podOf(d);
      expect(pod.metadata.labels, name).toMatchObject(selector);
      expect(pod.spec.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: 11200 });
      for (const c of pod.spec.containers) {
        expect(c.securityContext, `${name}/${c.name}`).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        const volumes = new Set((pod.spec.volumes ?? []).map((v) => v.name));
        for (const m of c.volumeMounts ?? [])
          expect(volumes.has(m.name), `${name}: volume ${m.name}`).toBe(true);
        const portNames = new Set((c.ports ?? []).map((p) => p.name));
        for (const probe of [c.livenessProbe, c.readinessProbe]) {
          const port = probe?.httpGet?.port;
          expect(port, `${name}: probes over HTTP`).toBeDefined();
          if (typeof port === "string") expect(portNames.has(port), `${name}: probe port ${port}`).toBe(true);
        }
        expect(c.livenessProbe!.httpGet!.path).toBe("/-/healthy");
        expect(c.readinessProbe!.httpGet!.path).toBe("/-/ready");
      }
      for (const v of pod.spec.volumes ?? []) {
        if (v.configMap)
          expect(find("ConfigMap", v.configMap.name), `${name}: ${v.configMap.name}`).toBeDefined();
        if (v.secret)
          expect(find("Secret", v.secret.secretName), `${name}: ${v.secret.secretName}`).toBeDefined();
        if (v.persistentVolumeClaim)
          expect(find("PersistentVolumeClaim", v.persistentVolumeClaim.claimName), name).toBeDefined();
      }
    }
  });

  it("Services select a Deployment's pods and name ports its container has", () => {
    for (const s of objects.filter((o) => o.kind === "Service")) {
      const spec = s.spec as {
        selector: Record<string, string>;
        ports: Array<{ targetPort: string | number }>;
      };
      const d = deployments.find((x) =>
        Object.entries(spec.selector).every(([k, v]) => podOf(x).metadata.labels[k] === v),
      );
      expect(d, `Service ${s.metadata.name} selects no Deployment`).toBeDefined();
      const names = new Set(podOf(d!).spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
      for (const p of spec.ports)
        if (typeof p.targetPort === "string") expect(names.has(p.targetPort)).toBe(true);
    }
  });
});

/** The file a container sees at `path`, through its mounts, written to `dir` (Secret keys with a random value). */
function podFile(pod: PodTemplate, c: Container, path: string, dir: string): string | undefined {
  const m = (c.volumeMounts ?? [])
    .filter((x) => path === x.mountPath || path.startsWith(`${x.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const v = m && (pod.spec.volumes ?? []).find((x) => x.name === m.name);
  if (!m || !v) return undefined;
  const key = m.subPath ?? path.slice(m.mountPath.length + 1);
  let text: string | undefined;
  if (v.configMap) text = find("ConfigMap", v.configMap.name)?.data?.[key];
  if (v.secret) {
    const s = find("Secret", v.secret.secretName);
    if (s?.stringData && key in s.stringData) text = `${Math.random().toString(36).slice(2)}\n`;
  }
  if (text === undefined) return undefined;
  const file = join(dir, `${c.name}-${key}`);
  writeFileSync(file, text);
  return file;
}

describe("the configurations in the ConfigMaps", () => {
  const scratch = mkdtempSync(join(tmpdir(), "p112-k8s-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("pass probe112 config check with the secrets each pod mounts, and agree with the pod's ports", async () => {
    for (const d of deployments) {
      const pod = podOf(d);
      const c = pod.spec.containers[0]!;
      const configPath = flagValue(c.args, "--config")!;
      const file = podFile(pod, c, configPath, scratch);
      expect(file, `${d.metadata.name}: ${configPath} is mounted`).toBeDefined();
      const text = readFileSync(file!, "utf8");
      const r = await checkDeployedConfig(text, (p) => podFile(pod, c, p, scratch));
      expect(r.unprovided, `${d.metadata.name}: secrets the pod does not mount`).toEqual([]);
      expect(r.code, `${d.metadata.name}: ${r.output}`).toBe(0);
      const conf = parse(text) as {
        agent?: { id: string; http: { listen: string } };
        responder?: { metrics: string };
      };
      const listen = conf.agent?.http.listen ?? conf.responder!.metrics;
      const port = Number(listen.split(":").pop());
      expect(listen.startsWith("0.0.0.0:"), `${d.metadata.name} listens for the kubelet and Prometheus`).toBe(
        true,
      );
      expect(c.ports!.map((p) => p.containerPort)).toContain(port);
      const a = pod.metadata.annotations!;
      expect(Number(a["prometheus.io/port"])).toBe(port);
      expect(c.env?.find((e) => e.name === "PROBE112_HEALTH_URL")?.value).toBe(
        `http://127.0.0.1:${port}/-/healthy`,
      );
      if (conf.agent) {
        expect(a["probe112.io/job"]).toBe("probe112-agent");
        expect(a["probe112.io/agent"], "the agent label is the agent's id").toBe(conf.agent.id);
      } else {
        expect(a["probe112.io/job"]).toBe("probe112-responder");
      }
    }
  });
});

describe("prometheus-scrape-config.yml, run by a real Prometheus", () => {
  const ip = uniqueLoopback();
  let agent: AgentRun;
  let responder: ResponderRun;
  let prometheus: PrometheusProcess;

  beforeAll(async () => {
    agent = await startAgent({
      config: agentConfig({
        ip,
        id: "kpn-ams-1",
        httpPort: await freePort("tcp", ip),
        paths: { "path-a": {} },
        destinations: { dead: { uri: `sip:112@${ip}:${await freePort("udp", ip)}`, role: "other" } },
        check: { interval: 3600, timeout: 2, hold: 0.2, media: "none" },
      }),
    });
    responder = await startResponder({
      args: ["--listen", `udp:${ip}:0`, "--metrics", `${ip}:${await freePort("tcp", ip)}`],
    });
    // What Kubernetes discovery would say about the two pods (and a pod that is not scraped),
    // built from the Deployments' own pod annotations; the port annotation is the test's port.
    const meta = (d: K8sObject, url: string, podName: string) => {
      const u = new URL(url);
      const labels: Record<string, string> = {
        __meta_kubernetes_namespace: NAMESPACE,
        __meta_kubernetes_pod_name: podName,
      };
      for (const [k, v] of Object.entries(podOf(d).metadata.annotations ?? {}))
        labels[`__meta_kubernetes_pod_annotation_${k.replace(/[^a-zA-Z0-9_]/g, "_")}`] = v;
      labels.__meta_kubernetes_pod_annotation_prometheus_io_port = u.port;
      return { targets: [`${u.hostname}:1`], labels };
    };
    const sd = [
      meta(find("Deployment", "probe112-agent")!, agent.url, "probe112-agent-7d9f"),
      meta(find("Deployment", "probe112-responder")!, responder.metricsUrl!, "probe112-responder-5c2a"),
      {
        targets: [`${ip}:2`],
        labels: { __meta_kubernetes_pod_name: "other", __meta_kubernetes_namespace: NAMESPACE },
      },
    ];
    const snippet = readYaml<{ scrape_configs: Array<Record<string, unknown>> }>(
      join(K8S, "prometheus-scrape-config.yml"),
    );
    prometheus = await runPrometheus({
      ip,
      config: {
        global: { scrape_interval: "1s", scrape_timeout: "1s" },
        scrape_configs: snippet.scrape_configs.map(({ kubernetes_sd_configs, ...job }) => {
          expect(kubernetes_sd_configs, `${job.job_name} discovers pods`).toBeDefined();
          return { ...job, file_sd_configs: [{ files: ["pods.json"], refresh_interval: "1s" }] };
        }),
      },
      files: { "pods.json": JSON.stringify(sd) },
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await agent?.stop();
    await responder?.stop();
  });

  it("scrapes the agent and the answering point, in the jobs and with the labels the rules use", async () => {
    const targets = await eventually(
      async () => {
        const r = await prometheus.api("/api/v1/targets");
        const active = (
          r.data as {
            activeTargets: Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }>;
          }
        ).activeTargets;
        return active.length === 2 && active.every((t) => t.health === "up") ? active : undefined;
      },
      20_000,
      "both pods scraped",
      250,
    );
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    expect(byJob["probe112-agent"]!.labels).toMatchObject({
      agent: "kpn-ams-1",
      operator: "kpn",
      region: "amsterdam",
    });
    expect(byJob["probe112-agent"]!.scrapeUrl).toBe(`${agent.url}/metrics`);
    expect(byJob["probe112-responder"]!.labels).toMatchObject({ responder: "probe112-responder-5c2a" });
    expect(byJob["probe112-responder"]!.labels).not.toHaveProperty("agent");
    // The agent's own id, which Probe112AgentTargetLabelWrong compares with the target label.
    const r = await prometheus.api("/api/v1/query", {
      query: 'probe112_agent_info{job="probe112-agent"} and on (agent) probe112_check_info',
    });
    expect((r.data as { result: unknown[] }).result).toHaveLength(1);
  });
});
