# syntax=docker/dockerfile:1
# GoChat image: one image for every role, SERVICES picks what a container runs (docs/deployment.md).
#   docker build -t gochat .
#   docker run -p 3000:3000 -e JWT_SECRET="$(openssl rand -base64 48)" gochat   # embedded, SQLite
#   node dist/scripts/migrate.js                                                  # the migration command

ARG NODE_VERSION=20

# Production dependencies only. The full Debian image has python3, make and g++ in case sqlite3
# (a native module) has no prebuilt binary for the platform; the runtime stage below uses the same
# Debian release, so the compiled module runs there.
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Compiles the TypeScript (tsconfig.build.json): dist/server.js, dist/services, dist/migrations and
# dist/scripts/migrate.js; bundles the web chat into dist/web (served at /) and builds the SDK
# package on the way. Dev dependencies (TypeScript, esbuild) stay in this stage.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json moleculer.config.ts server.ts ./
COPY lib lib
COPY middlewares middlewares
COPY mixins mixins
COPY services services
COPY migrations migrations
COPY scripts scripts
COPY client client
COPY web web
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
WORKDIR /app
# PORT: the gateway's HTTP and Socket.IO; HEALTH_PORT: /health and /ready for every role;
# METRICS_PORT: Prometheus /metrics. SERVICES=all runs every role in one container.
ENV PORT=3000 \
	HEALTH_PORT=8080 \
	METRICS_PORT=3030 \
	SERVICES=all
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# The embedded default keeps its SQLite file (and generated JWT secret) in /app/data: the only
# place the app writes, so it belongs to the unprivileged user; the code stays root-owned.
RUN mkdir -p data && chown node:node data
USER node
EXPOSE 3000 8080 3030
# Healthy = ready (/ready): started, dependencies reachable, not draining. Compose gates the start
# order on it; the slim image has no curl, so Node asks.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
	CMD ["node", "-e", "require('http').get({ host: '127.0.0.1', port: process.env.HEALTH_PORT, path: '/ready', timeout: 2500 }, res => process.exit(res.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))"]
CMD ["node", "dist/server.js"]
