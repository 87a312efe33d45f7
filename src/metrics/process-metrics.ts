import { collectDefaultMetrics, type Registry } from "prom-client";

/**
 * prom-client's process and Node.js metrics, minus three gauges it names with a `_total` suffix
 * (nodejs_active_handles_total and friends): Prometheus reserves that suffix for counters and
 * `promtool check metrics` rightly complains. nodejs_active_handles etc. carry the same numbers.
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    registry.removeSingleMetric(name);
  }
}
