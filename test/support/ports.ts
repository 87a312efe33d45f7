import { createSocket } from "node:dgram";
import { createServer } from "node:net";

/** Transport kinds a test peer can listen on. */
export type PortKind = "udp" | "tcp";

function bindUdp(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    socket.once("error", (err) => {
      socket.close();
      reject(err);
    });
    socket.bind(port, host, () => {
      const bound = socket.address().port;
      socket.close(() => resolve(bound));
    });
  });
}

function bindTcp(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

/** Asks the kernel for a currently unused port of the given kind on `host`. */
export function freePort(kind: PortKind, host = "127.0.0.1"): Promise<number> {
  return kind === "udp" ? bindUdp(host, 0) : bindTcp(host, 0);
}

/** Returns a port that is free for both UDP and TCP on `host` (SIP listens on both). */
export async function freeUdpTcpPort(host = "127.0.0.1", attempts = 50): Promise<number> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort("tcp", host);
    try {
      await bindUdp(host, port);
      return port;
    } catch (err) {
      // The kernel picked a TCP port whose UDP twin is taken; just draw again.
      lastError = err;
    }
  }
  throw new Error(
    `no port free for both UDP and TCP on ${host} after ${attempts} attempts: ${String(lastError)}`,
  );
}

function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/**
 * Returns a random loopback address in 127.10.0.1–127.250.255.254 so that test files
 * running in parallel workers rarely share an address (and never use 127.0.0.1).
 */
export function uniqueLoopback(): string {
  return `127.${randomInt(10, 250)}.${randomInt(0, 255)}.${randomInt(1, 254)}`;
}

/**
 * An even UDP port on `host` for a SIPp media socket (`-mp`): SIPp binds it for audio and the
 * port two above for video, and gives up when either is taken, so both must be free.
 */
export async function freeMediaPort(host = "127.0.0.1", attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const port = await freePort("udp", host);
    if (port % 2 !== 0 || port + 2 > 65535) continue;
    try {
      await bindUdp(host, port + 2);
      return port;
    } catch {
      // The video port is taken: draw again.
    }
  }
  throw new Error(`no even UDP port with a free port + 2 on ${host} after ${attempts} attempts`);
}
