/** One part of a multipart/mixed body (RFC 2046 §5.1). */
export interface BodyPart {
  readonly contentType: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/**
 * Splits a multipart body. The boundary comes from the Content-Type when known, otherwise from the
 * first delimiter line: SIP.js hands a session description handler the body without its type.
 */
export function parseMultipart(body: string, contentType?: string): BodyPart[] | undefined {
  const declared = contentType ? /boundary\s*=\s*"?([^";]+)"?/i.exec(contentType)?.[1] : undefined;
  const boundary = declared ?? /^--([^\r\n]+?)[ \t]*\r?\n/.exec(body)?.[1];
  if (!boundary) return undefined;
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  if (chunks.length < 3) return undefined;
  const parts: BodyPart[] = [];
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith("--")) break;
    const text = chunk.replace(/^[ \t]*\r?\n/, "").replace(/\r?\n$/, "");
    const split = /\r?\n\r?\n/.exec(text);
    const headText = split ? text.slice(0, split.index) : "";
    const partBody = split ? text.slice(split.index + split[0].length) : text;
    const headers = new Map<string, string>();
    for (const line of headText.split(/\r?\n/)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    parts.push({ contentType: headers.get("content-type") ?? "text/plain", headers, body: partBody });
  }
  return parts;
}

/** The SDP inside a body that is either SDP itself or multipart/mixed carrying SDP. */
export function sdpOfBody(body: string, contentType?: string): string | undefined {
  if (body.startsWith("v=0")) return body;
  const parts = parseMultipart(body, contentType);
  return parts?.find((p) => p.contentType.toLowerCase().startsWith("application/sdp"))?.body;
}

/** Builds a multipart/mixed body (RFC 2046 §5.1.1); returns the content and its Content-Type. */
export function buildMultipart(
  parts: ReadonlyArray<{ contentType: string; body: string; disposition?: string }>,
  boundary = `probe112-${Math.random().toString(36).slice(2, 12)}`,
): { contentType: string; content: string } {
  const chunks = parts.map((p) => {
    const headers = [`Content-Type: ${p.contentType}`];
    if (p.disposition) headers.push(`Content-Disposition: ${p.disposition}`);
    return `--${boundary}\r\n${headers.join("\r\n")}\r\n\r\n${p.body.replace(/\r?\n$/, "")}\r\n`;
  });
  return {
    contentType: `multipart/mixed;boundary=${boundary}`,
    content: `${chunks.join("")}--${boundary}--\r\n`,
  };
}
