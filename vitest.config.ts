import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60000,
    hookTimeout: 60000,
    // Child processes (SIPp, Kamailio) and signal handling behave best in real processes.
    pool: "forks",
    setupFiles: ["test/support/setup.ts"],
    globalSetup: ["test/support/global-build.ts"],
  },
});
