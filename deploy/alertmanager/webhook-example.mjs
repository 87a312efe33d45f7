#!/usr/bin/env node
// An example Alertmanager webhook receiver: prints one JSON line per notification (receiver,
// status, and each alert's name, labels and summary) on stdout. It stands in for a paging or
// ticket system in deploy/docker-compose.yml; replace it with the real one in production.
//
//   node webhook-example.mjs [--listen 0.0.0.0:9095] [--token-file FILE]
//
// With --token-file, requests without that bearer token are refused, as Alertmanager's
// http_config.authorization.credentials_file sends it.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { listen: { type: "string", default: "0.0.0.0:9095" }, "token-file": { type: "string" } },
});
const token = values["token-file"] ? readFileSync(values["token-file"], "utf8").split(/\r?\n/)[0] : undefined;
const at = values.listen.lastIndexOf(":");
const host = values.listen.slice(0, at).replace(/^\[|\]$/g, "");
const port = Number(values.listen.slice(at + 1));

const server = createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405).end();
    return;
  }
  if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
    res.writeHead(401).end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const line = {
      time: new Date().toISOString(),
      path: req.url,
      receiver: body.receiver,
      status: body.status,
      alerts: (body.alerts ?? []).map((a) => ({
        status: a.status,
        labels: a.labels,
        summary: a.annotations?.summary,
        startsAt: a.startsAt,
      })),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    res.writeHead(200).end();
  });
});
server.listen(port, host, () => {
  process.stderr.write(`webhook example listening on ${values.listen}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
