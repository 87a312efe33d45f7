import { readFileSync } from "node:fs";
import { Gauge, type Registry } from "prom-client";

/** The package version, read once from package.json. */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
})();

/** probe112_build_info{version, nodejs} 1 — which build exports these metrics. */
export function registerBuildInfo(registry: Registry): void {
  const g = new Gauge({
    name: "probe112_build_info",
    help: "Build information of the probe112 process exporting these metrics; always 1.",
    labelNames: ["version", "nodejs"],
    registers: [registry],
  });
  g.set({ version: VERSION, nodejs: process.version }, 1);
}
