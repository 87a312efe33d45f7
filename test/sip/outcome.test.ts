import { describe, expect, it } from "vitest";
import { type CallFacts, classifyCall, outcomeForStatus } from "../../src/sip/outcome.js";

const base: CallFacts = {
  inviteFinal: undefined,
  cancelledByUs: false,
  ringTimeoutSeconds: 20,
  transportError: undefined,
  probeError: undefined,
  timedOut: false,
  timeoutSeconds: 30,
  invitesSent: 1,
  byeUnanswered: false,
  droppedSummary: undefined,
};

describe("outcomeForStatus (the taxonomy of anchors.md §3.5)", () => {
  it.each([
    [200, false, "answered"],
    [302, false, "redirected"],
    [401, false, "auth_failure"],
    [407, false, "auth_failure"],
    [486, false, "busy"],
    [600, false, "busy"],
    [480, false, "no_answer"],
    [487, true, "no_answer"],
    [487, false, "client_error"],
    [603, false, "declined"],
    [408, false, "network_failure"],
    [500, false, "network_failure"],
    [503, false, "network_failure"],
    [504, false, "network_failure"],
    [404, false, "client_error"],
    [502, false, "server_error"],
    [604, false, "global_error"],
  ])("%i (cancelled by us: %s) → %s", (status, cancelled, outcome) => {
    expect(outcomeForStatus(status, cancelled)).toBe(outcome);
  });
});

describe("classifyCall", () => {
  it("a probe fault wins over everything and is never blamed on the provider", () => {
    const r = classifyCall({
      ...base,
      probeError: "cannot bind 10.9.9.9",
      inviteFinal: { status: 503, reason: "x" },
    });
    expect(r).toEqual({ outcome: "probe_error", reason: "cannot bind 10.9.9.9" });
  });

  it("answered, then the connection reset → transport_error naming both", () => {
    const r = classifyCall({
      ...base,
      inviteFinal: { status: 200, reason: "OK" },
      transportError: { message: "TCP connection to 1.2.3.4:5060 reset by peer", afterAnswer: true },
    });
    expect(r.outcome).toBe("transport_error");
    expect(r.reason).toMatch(/^answered, then TCP connection .* reset/);
  });

  it("answered but the BYE never answered → timeout", () => {
    const r = classifyCall({ ...base, inviteFinal: { status: 200, reason: "OK" }, byeUnanswered: true });
    expect(r.outcome).toBe("timeout");
  });

  it("answered, but the overall timeout ran out before our BYE was done → timeout, not a success", () => {
    const r = classifyCall({
      ...base,
      inviteFinal: { status: 200, reason: "OK" },
      timedOutAfterAnswer: true,
    });
    expect(r.outcome).toBe("timeout");
    expect(r.reason).toMatch(/^answered, but still up when the timeout of \d+ s ran out/);
  });

  it("ring timeout with 487 explains the CANCEL", () => {
    const r = classifyCall({
      ...base,
      cancelledByUs: true,
      ringTimedOut: true,
      inviteFinal: { status: 487, reason: "Request Terminated" },
    });
    expect(r).toEqual({
      outcome: "no_answer",
      reason: "no answer within the ring timeout of 20 s: CANCEL sent, 487 Request Terminated",
    });
  });

  it("no final response → timeout with the INVITE count and dropped messages", () => {
    const r = classifyCall({
      ...base,
      timedOut: true,
      invitesSent: 5,
      droppedSummary: "3 unusable message(s)",
    });
    expect(r).toEqual({
      outcome: "timeout",
      reason: "no final response within 30 s (INVITE sent 5 times); 3 unusable message(s)",
    });
  });

  it("no final response but a transport failure → transport_error", () => {
    const r = classifyCall({
      ...base,
      transportError: { message: "TCP connection refused", afterAnswer: false },
    });
    expect(r.outcome).toBe("transport_error");
  });
});
