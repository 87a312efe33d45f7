import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { jsonSchemaOf } from "../../src/cli/config.js";

describe("JSON Schemas for editors", () => {
  it.each(["agent", "responder"] as const)(
    "config/schema/%s.schema.json matches the validating schema (npm run schema)",
    (kind) => {
      const committed = JSON.parse(
        readFileSync(new URL(`../../config/schema/${kind}.schema.json`, import.meta.url), "utf8"),
      );
      expect(committed).toEqual(jsonSchemaOf(kind));
    },
  );
});
