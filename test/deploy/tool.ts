import { execFile } from "node:child_process";

/** How a command-line tool ended: its exit code and everything it printed. */
export interface ToolResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a tool to completion; never rejects, so a test can assert on a failure as well. */
export function tool(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}
