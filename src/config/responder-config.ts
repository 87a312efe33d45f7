import { z } from "zod";
import { cidr, hostPort, ipAddress, labelName, listenSpec } from "./common-schema.js";
import { secretRef } from "./secrets.js";

const seconds = (what: string) =>
  z.number({ message: `${what}: a number of seconds` }).positive(`${what} must be > 0 seconds`);

/** What the answering point knows of one agent: how to check its tokens and caller IDs. */
const agentEntry = z
  .object({
    id: labelName,
    number: z
      .number()
      .int()
      .min(0)
      .max(9999, "the agent number is the first four digits of its tokens: 0–9999"),
    secret: secretRef,
    paths: z
      .record(
        z.string().regex(/^\d{2}$/, 'path numbers are two digits, e.g. "01"'),
        z
          .object({
            name: labelName,
            /** The caller ID this agent sends on this path (E.164 or a SIP URI user). */
            callerId: z.string().min(1).optional(),
          })
          .strict(),
      )
      .default({}),
  })
  .strict();

export const responderConfigSchema = z
  .object({
    responder: z
      .object({
        /** The answering point's name, returned in the identity body of every answered test. */
        name: z.string().min(1).max(200).default("probe112 test answering point"),
        listen: z.array(listenSpec).min(1, "at least one listener, e.g. udp:0.0.0.0:5060"),
        advertisedAddress: ipAddress.optional(),
        tls: z
          .object({
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            caFile: z.string().min(1).optional(),
            requireClientCert: z.boolean().default(false),
          })
          .strict()
          .optional(),
        metrics: hostPort.optional(),
        journalDir: z.string().min(1).optional(),
        /** Ed25519 private key (PKCS#8 PEM, `probe112 keys generate`) that signs every journal line. */
        journalKeyFile: z.string().min(1).optional(),
        destinations: z
          .array(
            z
              .string()
              .regex(
                /^(\+?[0-9*#]{1,32}|urn:service:test\.sos(\.[a-z0-9-]+)*)$/,
                "a number (e.g. 112, +31881234567) or a test service URN (urn:service:test.sos[.sub-service])",
              ),
          )
          .min(1)
          .default(["112", "urn:service:test.sos"]),
        answer: z
          .object({
            ringMs: z.number().int().min(0).max(60_000).default(0),
            holdSeconds: seconds("answer.holdSeconds").default(30),
            media: z.enum(["loopback", "echo", "none"]).default("loopback"),
          })
          .strict()
          .default({ ringMs: 0, holdSeconds: 30, media: "loopback" }),
        limits: z
          .object({
            concurrentTests: z.number().int().min(1).default(20),
            /** Per caller (agent, else source address); a quarter of concurrentTests when absent. */
            concurrentPerCaller: z.number().int().min(1).optional(),
            perCallerPerMinute: z.number().int().min(1).default(30),
          })
          .strict()
          .default({ concurrentTests: 20, perCallerPerMinute: 30 }),
        access: z
          .object({
            /** Networks whose callers get a test without a signed token. */
            allow: z.array(cidr).default([]),
            agents: z.array(agentEntry).default([]),
            digest: z
              .object({
                realm: z.string().min(1),
                users: z
                  .array(z.object({ username: z.string().min(1), password: secretRef }).strict())
                  .min(1),
              })
              .strict()
              .optional(),
          })
          .strict()
          .default({ allow: [], agents: [] }),
      })
      .strict(),
  })
  .strict();

export type ResponderConfig = z.infer<typeof responderConfigSchema>["responder"];
export type AgentEntry = z.infer<typeof agentEntry>;
