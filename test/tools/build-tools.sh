#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd used by the cluster test tier, from the Go modules pinned in
# test/tools/k8s and test/tools/etcd. Binaries are cached in .tools/bin (ignored by git), keyed by the
# module files, so a second run on the same machine takes seconds; nothing depends on the cache existing.
# Measured cold (empty Go module and build caches, 2 cores): kube-apiserver 275 s, etcd 39 s, the OpenTelemetry
# Collector (built with ocb for the telemetry tests) 75 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

# Runs a long step, printing a line every 30 s so a cold build never looks hung (Go prints nothing
# while it downloads modules and compiles).
with_heartbeat() { # label command...
  local label=$1; shift
  local started=$SECONDS
  "$@" &
  local pid=$!
  while ! wait_for "$pid" 30; do
    echo "  $label: still working, $((SECONDS - started)) s so far"
  done
  wait "$pid"
}
wait_for() { # pid seconds: true once the process ended
  local i
  for ((i = 0; i < $2; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 1; done
  ! kill -0 "$1" 2>/dev/null
}

build() { # name module-dir package ldflags typical-cold-time
  local name=$1 dir=$2 pkg=$3 ldflags=$4 typical=$5
  local key
  key=$(cat "$dir/go.mod" "$dir/go.sum" <(echo "$ldflags") <(go version) | sha256sum | cut -c1-16)
  if [[ -x "$bin/$name" && -f "$bin/$name.key" && "$(cat "$bin/$name.key")" == "$key" ]]; then
    echo "$name: cached ($bin/$name)"
    return
  fi
  echo "$name: downloading Go modules and building $pkg once, cached in .tools/bin (usually $typical on 2 cores; seconds once cached)"
  local started=$SECONDS
  with_heartbeat "$name" bash -c 'cd "$1" && go build -buildvcs=false -trimpath -o "$2" -ldflags "$3" "$4"' _ "$dir" "$bin/$name.partial" "$ldflags" "$pkg"
  mv "$bin/$name.partial" "$bin/$name"
  echo "$key" > "$bin/$name.key"
  echo "$name: built in $((SECONDS - started)) s"
}

# A server binary installed from one module version (go install MODULE@VERSION), cached under the same
# kind of key. Built with nice -n 10: the machine is shared.
install() { # name module version
  local name=$1 module=$2 version=$3
  local key
  key=$(echo "$module@$version" | cat - <(go version) | sha256sum | cut -c1-16)
  if [[ -x "$bin/$name" && -f "$bin/$name.key" && "$(cat "$bin/$name.key")" == "$key" ]]; then
    echo "$name: cached ($bin/$name)"
    return
  fi
  echo "$name: installing $module@$version (cold builds take minutes)"
  local started=$SECONDS tmp
  tmp=$(mktemp -d "$root/.tools/$name-build.XXXX")
  GOBIN="$tmp" GOFLAGS=-buildvcs=false nice -n 10 go install -trimpath -ldflags "-s -w" "$module@$version"
  mv "$tmp/$(basename "${module%/v[0-9]*}")" "$bin/$name"
  rmdir "$tmp"
  echo "$key" > "$bin/$name.key"
  echo "$name: built in $((SECONDS - started)) s"
}

# Targets: kube (kube-apiserver, etcd), otelcol, minio, versitygw; default kube and otelcol.
targets=${*:-kube otelcol}

if [[ " $targets " == *" kube "* ]]; then
kube_version=$(sed -n 's#.*k8s.io/kubernetes v\([0-9.]*\)$#\1#p' "$root/test/tools/k8s/go.mod")
minor=$(echo "$kube_version" | cut -d. -f2)
# Without the version stamp kube-apiserver reports v0.0.0 and helm's kubeVersion check rejects the chart.
build kube-apiserver "$root/test/tools/k8s" k8s.io/kubernetes/cmd/kube-apiserver \
  "-s -w -X k8s.io/component-base/version.gitVersion=v${kube_version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean" \
  "5–10 min; 275 s measured on an idle machine"
build etcd "$root/test/tools/etcd" go.etcd.io/etcd/server/v3 "-s -w" "1–2 min; 39 s measured on an idle machine"
fi

# The OpenTelemetry Collector (OTLP receiver + file exporter) with the collector's own builder, ocb.
if [[ " $targets " == *" otelcol "* ]]; then
ocb_version=$(sed -n 's#.*go.opentelemetry.io/collector/receiver/otlpreceiver \(v[0-9.]*\)#\1#p' "$root/test/tools/otelcol/builder-config.yaml")
otelcol_key=$(cat "$root/test/tools/otelcol/builder-config.yaml" <(echo "$ocb_version") <(go version) | sha256sum | cut -c1-16)
if [[ -x "$bin/otelcol-test" && -f "$bin/otelcol-test.key" && "$(cat "$bin/otelcol-test.key")" == "$otelcol_key" ]]; then
  echo "otelcol-test: cached ($bin/otelcol-test)"
else
  started=$SECONDS
  echo "otelcol-test: downloading Go modules and building the Collector with ocb ${ocb_version} once, cached in .tools/bin (usually 1–11 min on 2 cores: 75 s measured on an idle machine, 641 s seen on a busy one; seconds once cached)"
  with_heartbeat "otelcol-test (ocb)" env GOBIN="$bin" go install "go.opentelemetry.io/collector/cmd/builder@${ocb_version}"
  (cd "$root/test/tools/otelcol" && with_heartbeat "otelcol-test" "$bin/builder" --config builder-config.yaml)
  mv "$root/.tools/otelcol-build/otelcol-test" "$bin/otelcol-test"
  echo "$otelcol_key" > "$bin/otelcol-test.key"
  echo "otelcol-test: built in $((SECONDS - started)) s"
fi
fi

# MinIO, the S3 server stricter than moto (it verifies checksums and enforces If-None-Match on
# CompleteMultipartUpload atomically). Its newest module version when this was pinned; it is AGPL
# software, run here as a separate test server only: nothing of it is linked into or shipped with
# the product. Measured cold (its modules not yet downloaded, 2 cores shared with four other builds and test runs): 492 s;
# warm module cache 212 s; cached: instant.
if [[ " $targets " == *" minio "* ]]; then
install minio github.com/minio/minio v0.0.0-20260212201848-7aac2a2c5b7c
fi

# versitygw with its posix backend, for docs/s3-compatible.md's measured row (Apache-2.0).
if [[ " $targets " == *" versitygw "* ]]; then
install versitygw github.com/versity/versitygw/cmd/versitygw v1.8.0
fi
