# syntax=docker/dockerfile:1

# One image for both hookline processes: the receiver (default CMD) and the Temporal worker
# (`node dist/src/worker/main.js`). `npm run build` (scripts/build.ts) is the same build as
# outside Docker: compiled TypeScript, the inbox's pages, and the prebuilt workflow bundle
# (dist/workflow-bundle.js) that the worker loads instead of bundling at start.

##### Build: install everything, compile TypeScript, then drop the dev dependencies #####
FROM node:20-bookworm-slim AS build

# better-sqlite3 falls back to compiling from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci

COPY . .
# tsconfig.build.json compiles src, workflows and activities (rootDir ".") into dist/, so
# src/worker/main.ts becomes dist/src/worker/main.js and src/receiver/main.ts
# dist/src/receiver/main.js.
RUN npm run build \
 && npm prune --omit=dev

##### Runtime: production dependencies and compiled output only #####
FROM node:20-bookworm-slim AS runtime

ENV NODE_ENV=production
WORKDIR /app

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
# dist/ holds the inbox's HTML pages and dist/workflow-bundle.js too (scripts/build.ts).
COPY --from=build /app/dist ./dist

# The code stays root-owned and read-only to the app; .data is the one place it may write
# (a sqlite: DATABASE_URL, should someone run the image without PostgreSQL).
RUN mkdir -p /app/.data && chown node:node /app/.data

USER node

EXPOSE 3000
CMD ["node", "dist/src/receiver/main.js"]
