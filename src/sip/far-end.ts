import { parseMultipart } from "./multipart.js";
import { headerValue, parseSipMessage } from "./sip-message.js";

/** What the answering far end said about itself in its 2xx. */
export interface FarEndIdentity {
  /** The text/plain part of the answer (RFC 6881 ED-78: name, service, location), when present. */
  readonly text: string | null;
  readonly server: string | null;
  readonly contact: string | null;
}

/** Reads the identity of the far end from the raw text of its 2xx to our INVITE. */
export function farEndIdentity(answer: string): FarEndIdentity {
  const view = parseSipMessage(answer);
  if (view.kind === "error") return { text: null, server: null, contact: null };
  const type = headerValue(view, "content-type") ?? "";
  const plain = /^multipart\//i.test(type)
    ? (parseMultipart(view.body, type) ?? []).find((p) => /^text\/plain/i.test(p.contentType))?.body
    : /^text\/plain/i.test(type)
      ? view.body
      : undefined;
  return {
    text: plain?.trim() || null,
    server: headerValue(view, "server") ?? null,
    contact: headerValue(view, "contact") ?? null,
  };
}
