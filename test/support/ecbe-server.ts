import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A STAND-IN FOR osmo-cbc, and the only mock in these tests: osmo-cbc is not packaged for Debian
 * and cannot be fetched here, so this small HTTP server implements the two ECBE endpoints probe112
 * uses, with the status codes and bodies of osmo-cbc's src/rest_api.c, rest_it_op.c and
 * smscb_message_fsm.c:
 *   POST   /api/ecbe/v1/message             201 "Created" · 400 <reason> (bad JSON or fields)
 *                                           · 409 "Could not allocate" (message_id already active)
 *   DELETE /api/ecbe/v1/message/:message_id 200 "OK" · 404 "Unknown message ID" · 400 (bad id, empty body)
 * What a real CBC then does over CBSP/SBc-AP and the air is left to the test, through `onCreate`.
 */
export interface EcbeCreate {
  readonly messageId: number;
  readonly serialNumber: number;
  readonly messageCode: number;
  readonly text: string;
  readonly characterSet: string;
  readonly language: string | undefined;
  readonly body: Record<string, unknown>;
}

export interface EcbeServer {
  readonly url: string;
  readonly active: ReadonlySet<number>;
  readonly requests: Array<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

const GEO_SCOPES = ["cell_wide_immediate", "plmn_wide", "lac_sac_tac_wide", "cell_wide"];

type Json = Record<string, unknown>;

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/** Parses a POST body the way rest_api.c does; a string is the 400 reason. */
function parseCreate(text: string): EcbeCreate | string {
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    return "REST: No JSON Body";
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "CBCMSG must be JSON object";
  if (typeof body.cbe_name !== "string") return "CBCMSG 'cbe_name' is mandatory";
  if (
    body.category !== undefined &&
    !["normal", "high_priority", "background"].includes(body.category as string)
  )
    return "CBCMSG 'category' unknown";
  if (body.repetition_period === undefined) return "CBCMSG 'repetiton_period' is mandatory";
  if (!isInt(body.repetition_period, 0, 4095)) return "CBCMSG 'repetiton_period' out of range";
  if (body.num_of_bcast !== undefined && !isInt(body.num_of_bcast, 0, 65535))
    return "CBCMSG 'num_of_bcast' out of range";
  const scope = body.scope as Json | undefined;
  if (!scope) return "CBCMSG 'scope' is mandatory";
  if (!scope.scope_plmn) return "CBCMSG only 'scope_plmn' supported";
  const msg = body.smscb_message as Json | undefined;
  if (!msg) return "CBCMSG 'smscb_message' is mandatory";
  const sn = msg.serial_nr as Json | undefined;
  if (!sn) return "serial_nr is mandatory";
  let serialNumber: number;
  if (sn.serial_nr_encoded !== undefined) {
    if (!isInt(sn.serial_nr_encoded, 0, 65535)) return "'serial_nr_encoded' is out of range";
    serialNumber = sn.serial_nr_encoded;
  } else {
    const d = sn.serial_nr_decoded as Json | undefined;
    if (!d) return "Either 'serial_nr_encoded' or 'serial_nr_decoded' are mandatory";
    const gs = GEO_SCOPES.indexOf(d.geo_scope as string);
    if (typeof d.geo_scope !== "string") return "'geo_scope' is mandatory";
    if (gs < 0) return "'geo_scope' is invalid";
    if (!isInt(d.msg_code, 0, 1024)) return "'msg_code' is out of range";
    if (!isInt(d.update_nr, 0, 15)) return "'update_nr' is out of range";
    serialNumber = ((gs & 3) << 14) | ((d.msg_code & 0x3ff) << 4) | (d.update_nr & 0xf);
  }
  if (!isInt(msg.message_id, 0, 65535)) return "message_id out of range";
  const payload = (msg.payload as Json | undefined)?.payload_decoded as Json | undefined;
  if (!payload) return "'payload' must be JSON object";
  if (typeof payload.character_set !== "string") return "Currently 'character_set' is mandatory";
  if (!["gsm", "8bit", "ucs2"].includes(payload.character_set)) return "Invalid 'character_set'";
  if (typeof payload.language === "string" && payload.language.length > 2)
    return "Only two-digit 'language' code is supported";
  if (typeof payload.data_utf8 !== "string") return "'data_utf8' is mandatory";
  return {
    messageId: msg.message_id,
    serialNumber,
    messageCode: (serialNumber >> 4) & 0x3ff,
    text: payload.data_utf8,
    characterSet: payload.character_set,
    language: typeof payload.language === "string" ? payload.language : undefined,
    body,
  };
}

/** Starts the stand-in on 127.0.0.1; `onCreate` plays the network's part for each new message. */
export async function startEcbeServer(onCreate: (m: EcbeCreate) => void): Promise<EcbeServer> {
  const active = new Set<number>();
  const requests: EcbeServer["requests"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const reply = (status: number, text?: string) => {
        requests.push({ method: req.method ?? "", path, status });
        res.writeHead(status, { "content-type": "text/plain" }).end(text ?? "");
      };
      if (req.method === "POST" && path === "/api/ecbe/v1/message") {
        const m = parseCreate(Buffer.concat(chunks).toString("utf8"));
        if (typeof m === "string") return reply(400, m);
        if (active.has(m.messageId)) return reply(409, "Could not allocate");
        active.add(m.messageId);
        onCreate(m);
        return reply(201, "Created");
      }
      const del = /^\/api\/ecbe\/v1\/message\/([^/]+)$/.exec(path);
      if (req.method === "DELETE" && del) {
        // atoi(), as osmo-cbc reads it: junk is 0, which no message has.
        const id = Number.parseInt(del[1]!, 10) || 0;
        if (id < 0 || id > 65535) return reply(400);
        if (!active.delete(id)) return reply(404, "Unknown message ID");
        return reply(200, "OK");
      }
      return reply(404, "Not Found");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    active,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
