import { afterAll } from "vitest";
import { removeTestPkis } from "./certs.js";
import { destroyAllNetns } from "./netns.js";
import { killAll } from "./process.js";

// Registered for every test file so a failing test cannot leak SIPp/Kamailio processes,
// network namespaces or temp PKIs beyond its file.
afterAll(async () => {
  await killAll();
  await destroyAllNetns();
  removeTestPkis();
});
