/**
 * A client for osmo-cbc's ECBE REST interface (nlalert.md §5.2): create a cell broadcast with
 * POST /api/ecbe/v1/message, withdraw it with DELETE /api/ecbe/v1/message/:message_id. For lab
 * CBCs only: live NL-Alert cannot be triggered by a probe.
 */

export interface EcbeMessage {
  readonly cbeName: string;
  readonly messageId: number;
  /** "plmn_wide" unless told otherwise; osmo-cbc implements only the PLMN scope. */
  readonly geoScope?: "cell_wide_immediate" | "plmn_wide" | "lac_sac_tac_wide" | "cell_wide";
  readonly messageCode: number;
  readonly updateNumber?: number;
  readonly text: string;
  readonly characterSet?: "gsm" | "ucs2";
  /** ISO 639-1; with "gsm" osmo-cbc puts it in the DCS (nl → 0x05). */
  readonly language?: string;
  readonly category?: "normal" | "high_priority" | "background";
  /** 0–4095 (seconds on SBc-AP). */
  readonly repetitionPeriod: number;
  /** 0–65535; 0 = until withdrawn. */
  readonly numberOfBroadcasts: number;
}

/** The CBC answered something other than success. */
export class CbcError extends Error {
  override readonly name = "CbcError";
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status}${body ? ` ${body.trim()}` : ""}`);
  }
}

/** The JSON body osmo-cbc's rest_api.c parses (cbc.schema.json, smscb.schema.json). */
export function ecbeBody(m: EcbeMessage): Record<string, unknown> {
  return {
    cbe_name: m.cbeName,
    category: m.category ?? "normal",
    repetition_period: m.repetitionPeriod,
    num_of_bcast: m.numberOfBroadcasts,
    scope: { scope_plmn: {} },
    smscb_message: {
      message_id: m.messageId,
      serial_nr: {
        serial_nr_decoded: {
          geo_scope: m.geoScope ?? "plmn_wide",
          msg_code: m.messageCode,
          update_nr: m.updateNumber ?? 0,
        },
      },
      payload: {
        payload_decoded: {
          character_set: m.characterSet ?? "gsm",
          ...(m.language ? { language: m.language } : {}),
          data_utf8: m.text,
        },
      },
    },
  };
}

export class CbcClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 60_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  /** Creates a broadcast; resolves once the CBC answered 201 (all its peers acknowledged). */
  async create(m: EcbeMessage): Promise<{ status: number; body: string }> {
    const r = await this.request("POST", "/api/ecbe/v1/message", JSON.stringify(ecbeBody(m)));
    if (r.status !== 201) throw new CbcError(r.status, r.body, `creating message ${m.messageId}`);
    return r;
  }

  /** Withdraws the broadcast on a channel. */
  async delete(messageId: number): Promise<{ status: number; body: string }> {
    const r = await this.request("DELETE", `/api/ecbe/v1/message/${messageId}`);
    if (r.status < 200 || r.status > 299)
      throw new CbcError(r.status, r.body, `deleting message ${messageId}`);
    return r;
  }

  private async request(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; body: string }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      ...(body !== undefined ? { body, headers: { "content-type": "application/json" } } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  }
}
