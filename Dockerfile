# syntax=docker/dockerfile:1
#
# canary-webhook image: `make docker-build` (IMG=canary-webhook:dev by default).
# Build on Debian bookworm so the build stages and the runtime share one libc
# release, should a native dependency ever appear.
ARG NODE_MAJOR=24

# Compile TypeScript with the full dependency tree.
FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and the sources are not copied yet.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# bench/ (and the examples it may read) are part of the build's tsconfig;
# only dist/src reaches the final image.
COPY src ./src
COPY bench ./bench
COPY examples ./examples
RUN npm run build

# Production dependencies only, resolved from the same lockfile. Install
# scripts are skipped: nothing at run time needs a compiled artifact.
FROM node:${NODE_MAJOR}-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Distroless: Node and its libraries, no shell, no package manager, nothing
# for an attacker to live off. The :nonroot tag runs as uid/gid 65532, the
# uid the Deployment pins with runAsUser.
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
WORKDIR /app
# Distroless keeps node in /nodejs/bin, which is not on its default PATH.
ENV NODE_ENV=production \
    PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin
# package.json is needed at run time: it makes dist/*.js ES modules
# ("type": "module") and carries the version the CLI reports.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
