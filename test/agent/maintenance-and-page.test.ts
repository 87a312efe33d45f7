import { describe, expect, it } from "vitest";
import { inMaintenance } from "../../src/agent/maintenance.js";
import { escapeHtml } from "../../src/agent/status-page.js";
import { probeErrorReason } from "../../src/metrics/agent-metrics.js";
import { checkIdentity } from "../../src/probes/sip-call-probe.js";

const at = (iso: string) => Date.parse(iso);

describe("maintenance windows (UTC)", () => {
  const weekly = [{ weekdays: ["sun" as const], from: "02:00", to: "04:00" }];
  it("covers the weekly window and nothing else", () => {
    expect(inMaintenance(weekly, "c", at("2026-11-29T02:00:00Z"))).toBe(true); // a Sunday
    expect(inMaintenance(weekly, "c", at("2026-11-29T03:59:59Z"))).toBe(true);
    expect(inMaintenance(weekly, "c", at("2026-11-29T04:00:00Z"))).toBe(false);
    expect(inMaintenance(weekly, "c", at("2026-11-30T02:30:00Z"))).toBe(false); // Monday
  });
  it("runs a window that ends before it starts over midnight", () => {
    const w = [{ weekdays: ["sat" as const], from: "23:00", to: "01:00" }];
    expect(inMaintenance(w, "c", at("2026-11-28T23:30:00Z"))).toBe(true); // Saturday night
    expect(inMaintenance(w, "c", at("2026-11-29T00:30:00Z"))).toBe(true); // early Sunday
    expect(inMaintenance(w, "c", at("2026-11-29T01:30:00Z"))).toBe(false);
  });
  it("one-off windows and per-check windows", () => {
    const w = [{ start: "2026-12-01T02:00:00Z", end: "2026-12-01T03:00:00Z", checks: ["a.x"] }];
    expect(inMaintenance(w, "a.x", at("2026-12-01T02:10:00Z"))).toBe(true);
    expect(inMaintenance(w, "b.x", at("2026-12-01T02:10:00Z"))).toBe(false);
    expect(inMaintenance(w, "a.x", at("2026-12-01T03:00:00Z"))).toBe(false);
  });
});

describe("far-end identity check", () => {
  it("passes when the identity text names what we expect (case-insensitive)", () => {
    expect(checkIdentity("Test PSAP", "probe112 TEST PSAP\r\nurn:service:test.sos")).toBe("ok");
    expect(checkIdentity("Test PSAP", "Some announcement server")).toBe("mismatch");
    expect(checkIdentity("Test PSAP", null)).toBe("absent");
    expect(checkIdentity(undefined, null)).toBe("not_checked");
  });
});

describe("status page and metrics helpers", () => {
  it("escapes everything a peer could put in a trace", () => {
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;",
    );
  });
  it("bounds agent-fault reasons to a small label set", () => {
    expect(probeErrorReason("paths[a].credentials.password: cannot read secret file /x: ENOENT")).toBe(
      "secret",
    );
    expect(probeErrorReason("cannot bind UDP 192.0.2.7:0: EADDRNOTAVAIL")).toBe("local_address");
    expect(probeErrorReason("something odd")).toBe("internal");
  });
});
