# syntax=docker/dockerfile:1
# The demo service (examples/demo-service): an Express app that emits security events as OTLP logs,
# and the attack simulator (packages/simulator, `secmon-simulate`), which depends on it.
# Build from the repository root: docker build -f deploy/docker/demo.Dockerfile .

FROM node:24.9.0-bookworm-slim AS build
RUN npm install --global pnpm@10.34.8
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile --filter "@secmon/simulator..."
# Build the simulator and every workspace package it uses (demo service, instrumentation, semconv)
# to dist/: Node does not strip types inside node_modules.
RUN pnpm --filter "@secmon/simulator..." run build
RUN pnpm --filter @secmon/simulator deploy --prod --legacy /out

FROM node:24.9.0-bookworm-slim
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /out /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:net').connect(Number(process.env.PORT), '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"]
# The demo service; the simulator is `node bin/secmon-simulate.js …` in the same image.
CMD ["node", "node_modules/@secmon/demo-service/dist/main.js"]
