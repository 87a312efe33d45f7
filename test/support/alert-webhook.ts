import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One alert inside an Alertmanager webhook notification. */
export interface WebhookAlert {
  readonly status: "firing" | "resolved";
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly fingerprint: string;
}

/** One POST from Alertmanager, as received. */
export interface WebhookNotification {
  /** The URL path it was posted to: the shipped receivers post to /<receiver name>. */
  readonly path: string;
  readonly receiver: string;
  readonly status: "firing" | "resolved";
  readonly groupLabels: Record<string, string>;
  readonly alerts: readonly WebhookAlert[];
  /** Arrival, `Date.now()`. */
  readonly receivedAt: number;
}

/** A loopback HTTP server standing in for the paging and ticket systems. */
export interface WebhookReceiver {
  /** "http://IP:PORT", without a trailing slash. */
  readonly url: string;
  /** Every notification accepted so far, in order of arrival. */
  readonly notifications: WebhookNotification[];
  /** Requests refused: wrong method, bearer token or body. */
  readonly refused: Array<{ path: string; status: number; receivedAt: number }>;
  /** Resolves with the first notification (already received or not) that `match` accepts. */
  waitFor(
    match: (n: WebhookNotification) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<WebhookNotification>;
  close(): Promise<void>;
}

/** Whether a notification carries an alert of `alertname` with `status` whose labels include `labels`. */
export function carries(
  n: WebhookNotification,
  alertname: string,
  status: "firing" | "resolved",
  labels: Record<string, string> = {},
): boolean {
  return n.alerts.some(
    (a) =>
      a.status === status &&
      a.labels.alertname === alertname &&
      Object.entries(labels).every(([k, v]) => a.labels[k] === v),
  );
}

/**
 * Starts a webhook receiver on `ip` that accepts Alertmanager's JSON (webhook version 4) and,
 * with `token`, only requests that bear it, as the shipped receivers' credentials_file sends it.
 */
export async function startWebhookReceiver(ip: string, token?: string): Promise<WebhookReceiver> {
  const notifications: WebhookNotification[] = [];
  const refused: WebhookReceiver["refused"] = [];
  let waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const receivedAt = Date.now();
      const path = req.url ?? "/";
      const refuse = (status: number) => {
        refused.push({ path, status, receivedAt });
        res.writeHead(status).end();
      };
      if (req.method !== "POST") return refuse(405);
      if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) return refuse(401);
      let body: Omit<WebhookNotification, "path" | "receivedAt">;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
      } catch {
        return refuse(400);
      }
      notifications.push({
        path,
        receiver: body.receiver,
        status: body.status,
        groupLabels: body.groupLabels ?? {},
        alerts: body.alerts ?? [],
        receivedAt,
      });
      res.writeHead(200).end();
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, ip, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${ip}:${port}`,
    notifications,
    refused,
    waitFor(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = notifications.find(match);
          if (!hit) return;
          done();
          resolve(hit);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no notification ${what} within ${timeoutMs} ms; received:\n${notifications.map(describeNotification).join("\n") || "(none)"}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
        };
        waiters.push(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One line per notification, for failure messages and logs. */
export function describeNotification(n: WebhookNotification): string {
  const alerts = n.alerts
    .map((a) => {
      const { alertname, provider, path, severity } = a.labels;
      const where = [provider, path].filter(Boolean).join("/");
      return `${a.status} ${alertname}${where ? `{${where}}` : ""}${severity ? ` ${severity}` : ""}`;
    })
    .join(", ");
  return `${new Date(n.receivedAt).toISOString()} ${n.path} ${n.status}: ${alerts || "(no alerts)"}`;
}
