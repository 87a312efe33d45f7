import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, uniqueLoopback } from "../support/ports.js";
import { type ResponderRun, startResponder } from "../support/responder.js";
import { ROOT, readYaml } from "./deploy-files.js";
import { tool } from "./tool.js";

// The Dockerfile cannot be built on the test machines (no Docker engine), so this reads it: two stages on
// node:20-bookworm-slim, a runtime stage that runs as a user of its own with production
// dependencies only, every file it copies present and not excluded by .dockerignore; and its
// HEALTHCHECK command, run with node against a real answering point's /-/healthy.

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The instructions of a Dockerfile, continuation lines joined, comments and directives left out. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, " ") };
    });
}

const all = instructions(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const stageStarts = all.flatMap((x, i) => (x.op === "FROM" ? [i] : []));
const stages = stageStarts.map((start, i) => all.slice(start, stageStarts[i + 1]));
const runtime = stages.at(-1)!;
const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

/** Whether .dockerignore keeps `path` out of the build context. */
function ignored(path: string): boolean {
  return ignore.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/|$)`);
    return re.test(path);
  });
}

describe("the Dockerfile", () => {
  it("builds on node:20-bookworm-slim and runs on it, in two stages", () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]![0]!.args).toBe("node:20-bookworm-slim AS build");
    expect(runtime[0]!.args).toBe("node:20-bookworm-slim");
    const build = stages[0]!.filter((x) => x.op === "RUN").map((x) => x.args);
    expect(build.some((r) => /npm ci\b/.test(r))).toBe(true);
    expect(build.some((r) => /npm run build/.test(r) && /npm prune --omit=dev/.test(r))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.build).toContain("tsconfig.build.json");
  });

  it("copies files that exist and that .dockerignore lets through", () => {
    const sources = all
      .filter((x) => x.op === "COPY" && !x.args.startsWith("--from"))
      .flatMap((x) => x.args.split(" ").slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "src", "bin"]));
    for (const s of sources) {
      expect(existsSync(join(ROOT, s)), s).toBe(true);
      expect(ignored(s), `${s} is in .dockerignore`).toBe(false);
    }
    for (const heavy of ["node_modules", "dist", ".git", "test", "deploy/compose/secrets"])
      expect(ignored(heavy), heavy).toBe(true);
  });

  it("runs as a user of its own, the built code and the production dependencies only", () => {
    const user = runtime.filter((x) => x.op === "USER").at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const fromBuild = runtime
      .filter((x) => x.op === "COPY" && x.args.startsWith("--from=build"))
      .map((x) => x.args);
    expect(fromBuild.some((a) => a.includes("/src/node_modules"))).toBe(true);
    expect(fromBuild.some((a) => a.includes("/src/dist"))).toBe(true);
    expect(runtime.find((x) => x.op === "ENTRYPOINT")?.args).toBe(
      '["node", "/opt/probe112/bin/probe112.js"]',
    );
  });

  it("its health URL defaults to the agent's default HTTP port; compose sets the responder's", () => {
    const env = runtime.filter((x) => x.op === "ENV").map((x) => x.args);
    const url = env.map((e) => /^PROBE112_HEALTH_URL=(\S+)$/.exec(e)?.[1]).find(Boolean);
    expect(url).toBe("http://127.0.0.1:9113/-/healthy");
    const schema = JSON.parse(readFileSync(join(ROOT, "config/schema/agent.schema.json"), "utf8")) as object;
    expect(JSON.stringify(schema)).toContain('"default":{"listen":"127.0.0.1:9113"}');
    const compose = readYaml<{ services: Record<string, { environment?: Record<string, string> }> }>(
      join(ROOT, "deploy/docker-compose.yml"),
    );
    expect(compose.services.responder?.environment?.PROBE112_HEALTH_URL).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/-\/healthy$/,
    );
  });
});

describe("its HEALTHCHECK command", () => {
  const health = all.find((x) => x.op === "HEALTHCHECK")!;
  const cmd = JSON.parse(health.args.slice(health.args.indexOf("CMD ") + 4)) as string[];
  const ip = uniqueLoopback();
  let responder: ResponderRun;

  beforeAll(async () => {
    responder = await startResponder({
      args: ["--listen", `udp:${ip}:0`, "--metrics", `${ip}:${await freePort("tcp", ip)}`],
    });
  });

  afterAll(async () => {
    await responder?.stop();
  });

  const check = (url: string) =>
    tool(cmd[0] === "node" ? process.execPath : cmd[0]!, cmd.slice(1), {
      env: { ...process.env, PROBE112_HEALTH_URL: url },
      timeoutMs: 10_000,
    });

  it("is node fetching /-/healthy, with a timeout shorter than Docker's", () => {
    expect(cmd[0]).toBe("node");
    expect(health.args).toMatch(/--timeout=5s/);
    expect(cmd.join(" ")).toMatch(/AbortSignal\.timeout\(4000\)/);
  });

  it("passes against a running answering point and fails where nothing healthy answers", async () => {
    expect((await check(`${responder.metricsUrl}/-/healthy`)).code).toBe(0);
    expect((await check(`${responder.metricsUrl}/no-such-page`)).code).toBe(1);
    expect((await check(`http://${ip}:${await freePort("tcp", ip)}/-/healthy`)).code).toBe(1);
  });
});
