import { z } from "zod";
import { NL_SUBSCRIPTION, parseChannelList } from "../cellbroadcast/channels.js";
import { labelName } from "./common-schema.js";

const seconds = (what: string, min: number) =>
  z.number({ message: `${what}: a number of seconds` }).min(min, `${what} must be at least ${min} s`);

/** One cell-broadcast modem: a dedicated receiver for one operator's network (nlalert.md §4.2, §7.3). */
export const modemSchema = z
  .object({
    /** A metric label; one per modem. */
    id: labelName,
    /** The modem's AT port, e.g. /dev/ttyUSB2 or a stable /dev/serial/by-id/… link. */
    device: z.string().min(1, "the modem's AT port, e.g. /dev/serial/by-id/usb-Quectel_EG25-if02-port0"),
    /** The network operator whose broadcasts this modem receives (a metric label). */
    operator: labelName,
    region: labelName,
    /** MCC+MNC the SIM should be registered on, e.g. "20408"; reported as a metric. */
    expectPlmn: z
      .string()
      .regex(/^\d{5,6}$/, 'MCC and MNC, 5 or 6 digits, e.g. "20408"')
      .optional(),
    /** Pin the modem to expectPlmn with AT+COPS=1 at start. */
    pinPlmn: z.boolean().default(false),
    baudRate: z.number().int().min(300).max(4_000_000).default(115200),
    /** Channels (MIDs) to subscribe to. */
    channels: z
      .string()
      .refine((s) => (parseChannelList(s)?.length ?? 0) > 0, {
        message: 'a list of channels and ranges, e.g. "919,4352-4356,4370-4400,6400"',
      })
      .default(NL_SUBSCRIPTION),
    /** Registration, operator, signal and subscription checked this often. */
    healthInterval: seconds("healthInterval", 5).default(60),
    /** Pages of one message may take this long to arrive before it counts as incomplete. */
    assemblyTimeout: seconds("assemblyTimeout", 10).default(300),
    /** The national test counts as missed this many minutes after its 12:00 slot. */
    nationalTestGraceMinutes: z.number().int().min(1).max(1440).default(15),
  })
  .strict();

/** The optional `modems:` section of an agent configuration. */
export const modemsSchema = z.array(modemSchema).superRefine((modems, ctx) => {
  const ids = new Set<string>();
  const devices = new Set<string>();
  modems.forEach((m, i) => {
    if (ids.has(m.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicate id "${m.id}"` });
    if (devices.has(m.device))
      ctx.addIssue({
        code: "custom",
        path: [i, "device"],
        message: `${m.device} is already used by another modem`,
      });
    ids.add(m.id);
    devices.add(m.device);
  });
});

export type ModemConfig = z.infer<typeof modemSchema>;
