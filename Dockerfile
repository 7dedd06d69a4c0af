# One image for every Node process (gateway, product subgraph, projector); compose picks the
# entry point per service with `command`. Health checks are defined in docker-compose.yml, because
# each service listens on its own port variable (PORT, PRODUCT_PORT, PROJECTOR_PORT).

# --- deps: all dependencies from the lockfile (dev ones are needed to compile) ---
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# --- build: TypeScript -> dist/ (plus each subgraph's schema.graphql) ---
FROM deps AS build
COPY . .
RUN npm run build

# --- runtime: production dependencies and dist/ only, as the non-root `node` user ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/app/.data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && npm cache clean --force \
 && mkdir -p /app/.data \
 && chown node:node /app/.data
COPY --from=build /app/dist ./dist
USER node
# gateway, product subgraph, projector
EXPOSE 4000 4001 4002 4003 4004 4010
# Default: the gateway (needs PRODUCT_SUBGRAPH_URL). Compose overrides this per service:
#   node dist/subgraphs/product/index.js | node dist/subgraphs/recommendation/index.js | node dist/projections/index.js
# The gateway's old space is capped: left alone, V8 lets it grow to 260-280 MB under load although
# what it holds stays far below (the response cache is bounded at GATEWAY_RESPONSE_CACHE_MB, 64).
# With the cap, peak RSS under the bench's load stays near 160 MB at the same CPU per request.
CMD ["node", "--max-old-space-size=192", "dist/gateway/index.js"]
