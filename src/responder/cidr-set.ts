import { isIP } from "node:net";
import { parseCidr } from "../config/common-schema.js";

function toBigInt(address: string): bigint {
  if (isIP(address) === 4) return address.split(".").reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  // Expand "::" and an embedded IPv4 tail, then read eight 16-bit groups.
  let a = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const n = toBigInt(v4[1]!);
    a = `${a.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g || "0", 16)), 0n);
}

/** A set of networks to test addresses against (IPv4-mapped IPv6 addresses match IPv4 blocks). */
export class CidrSet {
  private readonly blocks: Array<{ family: 4 | 6; base: bigint; prefix: number }> = [];

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const p = parseCidr(c);
      if (!p) throw new Error(`not a CIDR block: ${c}`);
      const bits = p.family === 4 ? 32 : 128;
      const mask = p.prefix === 0 ? 0n : ((1n << BigInt(p.prefix)) - 1n) << BigInt(bits - p.prefix);
      this.blocks.push({ family: p.family, base: toBigInt(p.address) & mask, prefix: p.prefix });
    }
  }

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  /** True when `address` lies in one of the networks. */
  has(address: string): boolean {
    const plain = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
    const family = isIP(plain);
    if (family === 0) return false;
    const value = toBigInt(plain);
    return this.blocks.some((b) => {
      if (b.family !== family) return false;
      const bits = family === 4 ? 32 : 128;
      const mask = b.prefix === 0 ? 0n : ((1n << BigInt(b.prefix)) - 1n) << BigInt(bits - b.prefix);
      return (value & mask) === b.base;
    });
  }
}
