# syntax=docker/dockerfile:1
# probe112: one image for every role; the command picks it (agent, responder, call, cb, …).
#   docker build -t probe112 .
#   docker run --rm probe112 config check /etc/probe112/agent.yaml
# deploy/docker-compose.yml runs an answering point, two agents and the central stack with it.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/probe112
# A user of its own with a fixed id, so that volumes and secret files can be given to it.
# dialout: the serial ports of NL-Alert modems passed in with --device. Journals go to
# /var/lib/probe112/{agent,responder}: mount a volume there.
RUN groupadd --system --gid 11200 probe112 \
 && useradd --system --uid 11200 --gid probe112 --groups dialout \
      --home-dir /var/lib/probe112 --no-create-home --shell /usr/sbin/nologin probe112 \
 && mkdir -p /var/lib/probe112/agent /var/lib/probe112/responder /etc/probe112 \
 && chown -R probe112:probe112 /var/lib/probe112
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
RUN ln -s /opt/probe112/bin/probe112.js /usr/local/bin/probe112
USER probe112:probe112
# SIP (responder), the responder's and the agent's HTTP faces (/metrics, /-/healthy, /-/ready).
EXPOSE 5060/udp 5060/tcp 5061/tcp 9112/tcp 9113/tcp
# /-/healthy of the agent by default; the responder sets PROBE112_HEALTH_URL to its --metrics
# address. Both processes serve it beside /metrics (src/metrics/metrics-server.ts).
ENV PROBE112_HEALTH_URL=http://127.0.0.1:9113/-/healthy
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.PROBE112_HEALTH_URL, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/probe112/bin/probe112.js"]
CMD ["--help"]
