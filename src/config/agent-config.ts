import { z } from "zod";
import { parseSipUri } from "../sip/sip-uri.js";
import { hostPort, ipAddress, labelName } from "./common-schema.js";
import { modemsSchema } from "./modem-config.js";
import { secretRef } from "./secrets.js";

const sipUri = (what: string) =>
  z.string().refine((s) => parseSipUri(s) !== undefined, {
    message: `${what}: a sip: or sips: URI, e.g. sip:112@psap.example.net;user=phone`,
  });

const seconds = (what: string, min = 0.001) =>
  z.number({ message: `${what}: a number of seconds` }).min(min, `${what} must be at least ${min} s`);

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a time of day HH:MM, e.g. 02:30");

/** When checks pause: a weekly window or a one-off period. Calls are skipped, never queued. */
const maintenanceWindow = z.union([
  z
    .object({
      weekdays: z.array(z.enum(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])).min(1),
      from: hhmm,
      to: hhmm,
      checks: z.array(z.string()).optional(),
    })
    .strict(),
  z
    .object({
      start: z.iso.datetime({
        message: "an ISO 8601 time with zone, e.g. 2026-12-01T02:00:00Z",
        offset: true,
      }),
      end: z.iso.datetime({ message: "an ISO 8601 time with zone, e.g. 2026-12-01T04:00:00Z", offset: true }),
      checks: z.array(z.string()).optional(),
    })
    .strict(),
]);

const provider = z.object({ id: labelName, name: z.string().min(1).optional() }).strict();

const path = z
  .object({
    id: labelName,
    /** Two-digit path number carried in signed probe tokens. */
    number: z.number().int().min(0).max(99, "path numbers go in the probe token: 0–99"),
    provider: labelName,
    access: z.enum(["fixed", "voip", "volte", "cs", "vowifi"], {
      message: "one of fixed, voip, volte, cs, vowifi",
    }),
    transport: z.enum(["udp", "tcp", "tls"]).default("udp"),
    proxy: sipUri("proxy").optional(),
    from: sipUri("from").optional(),
    /** Sent as P-Asserted-Identity, and declared to the answering point. */
    callerId: z
      .string()
      .regex(/^\+?[0-9]{3,20}$/, "an E.164 number such as +31201234567")
      .optional(),
    localAddress: ipAddress.optional(),
    credentials: z
      .object({ username: z.string().min(1), password: secretRef })
      .strict()
      .optional(),
    tls: z
      .object({
        caFile: z.string().min(1).optional(),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        /** Lab use only: turn certificate verification off. */
        verify: z.boolean().default(true),
      })
      .strict()
      .optional(),
    headers: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s*\S.*$/, 'a header line "Name: value"')).default([]),
  })
  .strict();

const destination = z
  .object({
    id: labelName,
    uri: sipUri("uri"),
    role: z.enum(["test112", "police", "fallback", "other"], {
      message:
        "test112 (the agreed 112 test destination), police (0900-8844), fallback (088 numbers) or other",
    }),
    /** Text the far end's identity (RFC 6881 ED-78 body) must contain for the call to count. */
    expectIdentity: z.string().min(1).optional(),
    /** Destinations also probed over a path while calls to this one fail. */
    fallbacks: z.array(labelName).default([]),
  })
  .strict();

const check = z
  .object({
    /** Paths and destinations: every pair is one check, named path.destination. */
    paths: z.array(labelName).min(1),
    destinations: z.array(labelName).min(1),
    interval: seconds("interval", 1).default(60),
    timeout: seconds("timeout").default(30),
    ringTimeout: seconds("ringTimeout").default(20),
    hold: seconds("hold", 0).default(2),
    media: z.enum(["loopback", "echo", "none"]).default("loopback"),
    /** Re-probe a failure this many seconds later before the path counts as down. */
    confirmAfter: seconds("confirmAfter", 0.1).default(10),
  })
  .strict()
  .refine((c) => c.timeout > c.hold, { message: "timeout must be longer than hold", path: ["timeout"] });

export const agentConfigSchema = z
  .object({
    agent: z
      .object({
        id: labelName,
        operator: labelName,
        region: labelName,
        labels: z
          .record(z.string().regex(/^[a-z_][a-z0-9_]*$/, "label names: a–z, 0–9, _"), z.string())
          .default({}),
        /** Agent number carried in signed probe tokens; with `tokenSecret` the answering point can check them. */
        number: z.number().int().min(0).max(9999).optional(),
        tokenSecret: secretRef.optional(),
        http: z
          .object({
            listen: hostPort.default("127.0.0.1:9113"),
            /** Bearer token for POST /api/v1/sweep; without it the sweep endpoint is off. */
            sweepToken: secretRef.optional(),
          })
          .strict()
          .default({ listen: "127.0.0.1:9113" }),
        journalDir: z.string().min(1).optional(),
        /** Ed25519 private key (PKCS#8 PEM, `probe112 keys generate`) that signs every journal line. */
        journalKeyFile: z.string().min(1).optional(),
        /** Hard cap over all checks: the agent must never flood the 112 chain. */
        maxCallsPerMinute: z.number().int().min(1).max(6000).default(30),
        maintenance: z.array(maintenanceWindow).default([]),
      })
      .strict()
      .refine((a) => (a.number === undefined) === (a.tokenSecret === undefined), {
        message: "give both `number` and `tokenSecret` to sign probe tokens, or neither",
      }),
    providers: z.array(provider).min(1),
    paths: z.array(path).min(1),
    destinations: z.array(destination).min(1),
    checks: z.array(check).min(1),
    /** Cell-broadcast receivers: one modem per operator network (NL-Alert monitoring). */
    modems: modemsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const providers = new Set(c.providers.map((p) => p.id));
    const paths = new Set(c.paths.map((p) => p.id));
    const dests = new Set(c.destinations.map((d) => d.id));
    const dup = (ids: string[], where: string) => {
      const seen = new Set<string>();
      ids.forEach((id, i) => {
        if (seen.has(id))
          ctx.addIssue({ code: "custom", path: [where, i, "id"], message: `duplicate id "${id}"` });
        seen.add(id);
      });
    };
    dup(
      c.providers.map((p) => p.id),
      "providers",
    );
    dup(
      c.paths.map((p) => p.id),
      "paths",
    );
    dup(
      c.destinations.map((d) => d.id),
      "destinations",
    );
    c.paths.forEach((p, i) => {
      if (!providers.has(p.provider)) {
        ctx.addIssue({
          code: "custom",
          path: ["paths", i, "provider"],
          message: `no provider "${p.provider}": add it under providers`,
        });
      }
      if (p.transport !== "tls" && p.tls) {
        ctx.addIssue({
          code: "custom",
          path: ["paths", i, "tls"],
          message: "TLS settings on a path whose transport is not tls",
        });
      }
    });
    c.destinations.forEach((d, i) => {
      d.fallbacks.forEach((f, j) => {
        if (!dests.has(f))
          ctx.addIssue({
            code: "custom",
            path: ["destinations", i, "fallbacks", j],
            message: `no destination "${f}"`,
          });
      });
    });
    c.checks.forEach((k, i) => {
      k.paths.forEach((p, j) => {
        if (!paths.has(p))
          ctx.addIssue({
            code: "custom",
            path: ["checks", i, "paths", j],
            message: `no path "${p}": add it under paths`,
          });
      });
      k.destinations.forEach((d, j) => {
        if (!dests.has(d))
          ctx.addIssue({
            code: "custom",
            path: ["checks", i, "destinations", j],
            message: `no destination "${d}": add it under destinations`,
          });
      });
    });
  });

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type PathConfig = AgentConfig["paths"][number];
export type DestinationConfig = AgentConfig["destinations"][number];
export type MaintenanceWindow = AgentConfig["agent"]["maintenance"][number];

/** One path × destination pair with the check settings that apply to it. */
export interface CheckSpec {
  readonly name: string;
  readonly path: PathConfig;
  readonly provider: AgentConfig["providers"][number];
  readonly destination: DestinationConfig;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly ringTimeoutSeconds: number;
  readonly holdSeconds: number;
  readonly media: "loopback" | "echo" | "none";
  readonly confirmAfterSeconds: number;
}

/** Expands the check entries into one spec per path × destination (later entries win). */
export function expandChecks(c: AgentConfig): CheckSpec[] {
  const byName = new Map<string, CheckSpec>();
  for (const k of c.checks) {
    for (const p of k.paths) {
      for (const d of k.destinations) {
        const path = c.paths.find((x) => x.id === p)!;
        byName.set(`${p}.${d}`, {
          name: `${p}.${d}`,
          path,
          provider: c.providers.find((x) => x.id === path.provider)!,
          destination: c.destinations.find((x) => x.id === d)!,
          intervalSeconds: k.interval,
          timeoutSeconds: k.timeout,
          ringTimeoutSeconds: k.ringTimeout,
          holdSeconds: k.hold,
          media: k.media,
          confirmAfterSeconds: k.confirmAfter,
        });
      }
    }
  }
  return [...byName.values()];
}
