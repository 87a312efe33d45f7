import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

/** Compiles src/ to dist/ once before the tests, so CLI tests run the real binary. */
export default function setup(): void {
  const root = resolve(import.meta.dirname, "../..");
  execFileSync(
    process.execPath,
    [resolve(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
}
