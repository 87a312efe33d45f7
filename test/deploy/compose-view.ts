import { cpSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, posix, resolve } from "node:path";

/** A service of a compose file, the parts the tests read. */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  secrets?: Array<string | { source: string; target?: string }>;
  ports?: string[];
  networks?: string[] | Record<string, unknown>;
  user?: string;
  depends_on?: string[];
  [key: string]: unknown;
}

/** A compose file, parsed. */
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
  secrets?: Record<string, { file: string }>;
}

/** One path a container sees and where it comes from on the host. */
export interface Mount {
  readonly target: string;
  /** A host path, or undefined for a named volume. */
  readonly source: string | undefined;
  readonly volume?: string;
}

/** The mounts of a service: bind mounts, named volumes and secrets, as the container sees them. */
export function mountsOf(
  compose: ComposeFile,
  service: ComposeService,
  composeDir: string,
  secretsDir?: string,
): Mount[] {
  const out: Mount[] = [];
  for (const v of service.volumes ?? []) {
    const [src, target] = v.split(":") as [string, string];
    if (src.startsWith(".") || isAbsolute(src)) out.push({ target, source: resolve(composeDir, src) });
    else out.push({ target, source: undefined, volume: src });
  }
  for (const s of service.secrets ?? []) {
    const source = typeof s === "string" ? s : s.source;
    const name = typeof s === "string" ? s : (s.target ?? s.source);
    const target = name.startsWith("/") ? name : `/run/secrets/${name}`;
    const file = compose.secrets?.[source]?.file;
    const host =
      file === undefined
        ? undefined
        : secretsDir
          ? join(secretsDir, posix.basename(file))
          : resolve(composeDir, file);
    out.push({
      target,
      source: host,
      volume: file === undefined ? `undeclared secret ${source}` : undefined,
    });
  }
  return out;
}

/** The host file behind a path inside the container, through the deepest mount that holds it. */
export function hostPath(mounts: readonly Mount[], containerPath: string): string | undefined {
  const m = mounts
    .filter((x) => containerPath === x.target || containerPath.startsWith(`${x.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  if (!m?.source) return undefined;
  const rest = containerPath.slice(m.target.length);
  const p = rest ? join(m.source, rest) : m.source;
  return existsSync(p) ? p : undefined;
}

/** Copies what a container sees under `prefix` into `root`, for tools that read relative paths. */
export function materialize(mounts: readonly Mount[], prefix: string, root: string): void {
  for (const m of [...mounts].sort((a, b) => a.target.length - b.target.length)) {
    if (!m.source || !(m.target === prefix || m.target.startsWith(`${prefix}/`))) continue;
    const dest = join(root, m.target);
    mkdirSync(statSync(m.source).isDirectory() ? dest : dirname(dest), { recursive: true });
    cpSync(m.source, dest, { recursive: true });
  }
}

/** The value after `flag` in an argument list (`--flag value` or `--flag=value`). */
export function flagValue(args: readonly string[] | undefined, flag: string): string | undefined {
  for (let i = 0; i < (args ?? []).length; i++) {
    const a = args![i]!;
    if (a === flag) return args![i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}
