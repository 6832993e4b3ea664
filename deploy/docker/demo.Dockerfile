# syntax=docker/dockerfile:1
# The demo service (examples/demo-service): an Express app that emits security events as OTLP logs.
# Build from the repository root: docker build -f deploy/docker/demo.Dockerfile .

FROM node:24.9.0-bookworm-slim AS build
RUN npm install --global pnpm@10.34.8
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile --filter "@secmon/demo-service..."
# Build the workspace libraries it uses (semconv, instrumentation) to dist/; the demo's own
# TypeScript runs directly on Node 24 (type stripping works outside node_modules).
RUN pnpm --filter "@secmon/demo-service^..." run build
RUN pnpm --filter @secmon/demo-service deploy --prod --legacy /out

FROM node:24.9.0-bookworm-slim
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /out /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:net').connect(Number(process.env.PORT), '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"]
CMD ["node", "src/main.ts"]
