import dgram from "node:dgram";

/** An RTP/RTCP socket pair on adjacent ports, RTP even (RFC 3550 §11). */
export interface RtpPortPair {
  readonly address: string;
  readonly port: number;
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  close(): void;
}

function bind(s: dgram.Socket, port: number, address: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, address, () => {
      s.off("error", reject);
      resolve(s.address().port);
    });
  });
}

/** Binds an even RTP port and the RTCP port above it on `address`. */
export async function openRtpPortPair(address: string, attempts = 32): Promise<RtpPortPair> {
  const type = address.includes(":") ? "udp6" : "udp4";
  for (let i = 0; i < attempts; i++) {
    const rtp = dgram.createSocket(type);
    const port = await bind(rtp, 0, address);
    if (port % 2 !== 0 || port >= 65535) {
      rtp.close();
      continue;
    }
    const rtcp = dgram.createSocket(type);
    try {
      await bind(rtcp, port + 1, address);
    } catch {
      rtp.close();
      rtcp.close();
      continue;
    }
    // A socket error (ICMP unreachable from a far end that is gone) must not crash the process.
    rtp.on("error", () => {});
    rtcp.on("error", () => {});
    let closed = false;
    return {
      address,
      port,
      rtp,
      rtcp,
      close: () => {
        if (closed) return;
        closed = true;
        rtp.close();
        rtcp.close();
      },
    };
  }
  throw new Error(`no free RTP port pair on ${address} after ${attempts} attempts`);
}
