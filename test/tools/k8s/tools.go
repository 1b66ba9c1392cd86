//go:build tools

// Package tools pins kube-apiserver for the cluster test tier (test/cluster); built by test/tools/build-tools.sh.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"
