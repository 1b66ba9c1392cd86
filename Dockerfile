# syntax=docker/dockerfile:1
# daily-report worker image: `daily-report run` on Node.js 24, non-root, read-only root filesystem friendly.
#
# BASE_IMAGE is a build argument so CI can build from a locally assembled Node.js 24 base
# (test/tools/image/build-base-image.sh); anywhere else the official slim image is used.
ARG BASE_IMAGE=docker.io/library/node:24.21.0-bookworm-slim

# --- build: dev dependencies, TypeScript → dist/ -------------------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts and --omit=optional: the build needs only the compiler; install scripts and
# optional packages fetch test-only binaries (the node@24 runtime package, embedded PostgreSQL).
# The optional build secret `ca-bundle` is for networks whose registry traffic passes a TLS-inspecting
# proxy (CI's does): mounted for this step only, it never lands in a layer.
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-bundle; fi; \
    npm ci --ignore-scripts --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc through the base image's node: node_modules/.bin/node is the (uninstalled) node@24 test runtime.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json && chmod 0755 dist/main.js

# --- deps: production dependencies only ----------------------------------------------------------
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-bundle; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
    # Source maps and type declarations are half of node_modules (142 of 268 MB) and nothing at run time.
    && find node_modules \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# --- runtime -------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="daily-report" \
      org.opencontainers.image.description="Nightly PostgreSQL → CSV report, published atomically to AWS S3 or Azure Blob Storage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY sql ./sql
# The CLI on PATH, so `daily-report ...` works in `kubectl exec` and `kubectl debug` as in the README.
RUN ln -s /app/dist/main.js /usr/local/bin/daily-report
# A numeric UID/GID (not a name) so Kubernetes' runAsNonRoot can verify it; the chart uses the same.
USER 10001:10001
ENTRYPOINT ["daily-report"]
CMD ["run"]
