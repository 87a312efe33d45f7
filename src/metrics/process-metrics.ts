import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

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
  // The process's own wall clock when scraped: against Prometheus's time() it shows a skewed
  // clock, which would misplace every journal timestamp and national-test window.
  new Gauge({
    name: "probe112_clock_seconds",
    help: "Wall-clock time of this process when its metrics were collected (Unix seconds); compare with time() for clock skew.",
    registers: [registry],
    collect() {
      this.set(Date.now() / 1000);
    },
  });
}
