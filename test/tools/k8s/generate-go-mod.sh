#!/usr/bin/env bash
# Regenerates go.mod for building kube-apiserver at KUBE_VERSION.
# k8s.io/kubernetes's own go.mod points its staging modules at ./staging/..., which `go build` from another module
# cannot follow; each such line becomes a replace to the published module of the matching v0.x version.
set -euo pipefail
cd "$(dirname "$0")"
KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
staging_version="v0.${KUBE_VERSION#v1.}"
mod_file=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module daily-report/test/tools/k8s"
  echo
  echo "go $(sed -n 's/^go //p' "$mod_file")"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\t\1 => \1 '"${staging_version}"'#p' "$mod_file"
  echo ")"
} > go.mod
rm -f go.sum
go get "k8s.io/kubernetes@${KUBE_VERSION}"
go mod tidy
