//go:build tools

// Package tools pins etcd for the cluster test tier (test/cluster); built by test/tools/build-tools.sh.
package tools

import _ "go.etcd.io/etcd/server/v3"
