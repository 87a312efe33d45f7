import { afterEach, describe, expect, it } from "vitest";
import {
  blackhole,
  createNetns,
  dropFirstUdpMatching,
  dropRandom,
  type Netns,
  rejectTcpReset,
  ruleCounters,
} from "../support/netns.js";
import { listeningSockets, run, waitForPort } from "../support/process.js";
import { describeSippResult, sippStartLines, startSipp } from "../support/sipp.js";

// Network namespaces give each test its own loopback and firewall, so packet loss and
// blackholes can be injected without touching the host.

let ns: Netns | undefined;

afterEach(async () => {
  await ns?.destroy();
  ns = undefined;
});

describe("network namespace helpers", () => {
  it("creates an isolated namespace with lo up and removes it (and its processes) on destroy", async () => {
    ns = await createNetns();
    expect(ns.name).toMatch(/^p112-/);
    expect(await ns.run("ip", ["-o", "link", "show", "lo"])).toMatch(/state UNKNOWN|LOWER_UP/);
    const echo = ns.exec("socat", ["UDP4-RECVFROM:7000,bind=127.0.0.1,fork", "EXEC:cat"]);
    await waitForPort("udp", "127.0.0.1", 7000, 5000, { netns: ns.name, process: echo });
    expect(await listeningSockets("udp")).not.toContain("127.0.0.1:7000");
    const reply = await ns.run("sh", ["-c", "echo ping | socat -t 2 - UDP4:127.0.0.1:7000"]);
    expect(reply.trim()).toBe("ping");

    const name = ns.name;
    await ns.destroy();
    ns = undefined;
    expect(echo.running()).toBe(false);
    expect(await run("ip", ["netns", "list"])).not.toMatch(new RegExp(`^${name}\\b`, "m"));
  });

  it("dropFirstUdpMatching drops exactly the first INVITE; the retransmission completes the call", async () => {
    ns = await createNetns();
    const rule = await dropFirstUdpMatching(ns, { dport: 5060, match: "INVITE sip", every: 2 });
    expect(rule).toContain("nth");
    const uas = startSipp({
      scenario: "uas-answer",
      role: "uas",
      transport: "u1",
      ip: "127.0.0.1",
      port: 5060,
      netns: ns.name,
      keys: { ring_ms: "0", answer_ms: "0" },
    });
    await uas.ready;
    const uac = startSipp({
      scenario: "uac-basic",
      role: "uac",
      transport: "u1",
      ip: "127.0.0.1",
      port: 5070,
      remote: "127.0.0.1:5060",
      netns: ns.name,
    });
    const [uasResult, uacResult] = await Promise.all([uas.exit, uac.exit]);
    const explain = `${describeSippResult(uas, uasResult)}\n\n${describeSippResult(uac, uacResult)}`;
    expect(uasResult.code, explain).toBe(0);
    expect(uacResult.code, explain).toBe(0);

    const invitesSent = sippStartLines(uacResult.messageLog, "sent").filter((l) => l.startsWith("INVITE"));
    const invitesReceived = sippStartLines(uasResult.messageLog, "received").filter((l) =>
      l.startsWith("INVITE"),
    );
    expect(invitesSent).toHaveLength(2);
    expect(invitesReceived).toHaveLength(1);

    const [counter] = await ruleCounters(ns);
    expect(counter?.target).toBe("DROP");
    expect(counter?.spec).toContain("INVITE sip");
    expect(counter?.packets).toBe(1);
  });

  it("dropRandom with probability 1 drops every datagram to the port", async () => {
    ns = await createNetns();
    await dropRandom(ns, { dport: 7001, probability: 1 });
    const echo = ns.exec("socat", ["UDP4-RECVFROM:7001,bind=127.0.0.1,fork", "EXEC:cat"]);
    await waitForPort("udp", "127.0.0.1", 7001, 5000, { netns: ns.name, process: echo });
    const reply = await ns.run("sh", ["-c", "echo ping | socat -t 1 - UDP4:127.0.0.1:7001; true"]);
    expect(reply).toBe("");
    expect((await ruleCounters(ns))[0]?.packets).toBe(1);
  });

  it("blackhole makes a TCP connect time out, rejectTcpReset makes it fail at once", async () => {
    ns = await createNetns();
    await blackhole(ns, { dport: 7002, proto: "tcp" });
    await rejectTcpReset(ns, { port: 7003 });
    const connect = (port: number) =>
      ns!.run("sh", [
        "-c",
        `start=$(date +%s%N); socat -T 1 - TCP4:127.0.0.1:${port},connect-timeout=1 </dev/null 2>&1; echo "rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))"`,
      ]);

    const silent = await connect(7002);
    expect(silent).toMatch(/timed out|Operation now in progress|timeout/i);
    expect(Number(/ms=(\d+)/.exec(silent)?.[1])).toBeGreaterThanOrEqual(900);

    const reset = await connect(7003);
    expect(reset).toMatch(/Connection refused/);
    expect(Number(/ms=(\d+)/.exec(reset)?.[1])).toBeLessThan(900);

    const counters = await ruleCounters(ns);
    expect(counters.map((c) => c.target)).toEqual(["DROP", "REJECT"]);
    expect(counters[0]?.packets).toBeGreaterThanOrEqual(1);
    expect(counters[1]?.packets).toBe(1);
  });
});
