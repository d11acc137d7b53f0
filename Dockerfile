# Container image of the gateway: Node 24 (type stripping runs the .ts sources, no build step), production
# dependencies only, non-root, policies baked at /etc/policy-gateway/rules (mount your own over it).
# Build: docker build -t policy-gateway .   (or podman build --format docker; see README "Deploy")
ARG NODE_IMAGE=node:24-slim

# --- deps: production dependencies from the lockfile, no install scripts (none of them needs one) ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime: sources + node_modules owned by root and read-only to the `node` user that runs them ---
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    POLICY_GATEWAY_HOST=0.0.0.0 \
    POLICY_GATEWAY_PORT=5000 \
    POLICY_GATEWAY_RULES=/etc/policy-gateway/rules
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json LICENSE ./
COPY bin ./bin
COPY grammar ./grammar
COPY plugins ./plugins
COPY src ./src
COPY deploy/container/healthcheck.mjs ./healthcheck.mjs
COPY rules /etc/policy-gateway/rules
USER node
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# node is PID 1 and handles SIGTERM itself: stop accepting, drain in-flight requests for --grace (30s by default;
# give `docker stop -t` / compose stop_grace_period / Kubernetes terminationGracePeriodSeconds more than that).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/src/cli/main.ts"]
CMD ["serve"]
