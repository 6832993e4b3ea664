# syntax=docker/dockerfile:1
# secmon-detector image; also runs the attack simulator (a command of the same package).
# Build from the repository root: docker build -f deploy/docker/detector.Dockerfile .
# (deploy/docker/detector.Dockerfile.dockerignore keeps node_modules, dist and .git out.)

FROM node:24.9.0-bookworm-slim AS build
# pnpm from npm, pinned to the version in package.json's packageManager (no corepack).
RUN npm install --global pnpm@10.34.8
WORKDIR /src
COPY . .
# Only the detector and the workspace packages it depends on.
RUN pnpm install --frozen-lockfile --filter "@secmon/detector..."
RUN pnpm --filter "@secmon/detector..." run build
# A self-contained copy of the package with production dependencies only.
RUN pnpm --filter @secmon/detector deploy --prod --legacy /out/packages/detector

FROM node:24.9.0-bookworm-slim
ENV NODE_ENV=production NODE_OPTIONS=--disable-warning=ExperimentalWarning
WORKDIR /app
COPY --from=build --chown=node:node /out /app
COPY --chown=node:node deploy/detector/detector.yaml /etc/secmon/detector.yaml
# For a SQLite outbox when the image runs alone (outbox: { type: sqlite, path: /var/lib/secmon/outbox.db }
# on a volume of its own); in compose the outbox is in Redis, shared by the replicas.
RUN mkdir -p /var/lib/secmon && chown node:node /var/lib/secmon
# The node image's unprivileged user (uid 1000).
USER node
# OTLP gRPC, OTLP HTTP, HTTP API (/healthz, /readyz, /api/...), Prometheus /metrics.
EXPOSE 4317 4318 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/detector/bin/secmon-detector.js", "--config", "/etc/secmon/detector.yaml"]
