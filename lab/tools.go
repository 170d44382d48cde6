//go:build tools

// Package lab pins the Kubernetes commands that scripts/build-k8s.sh builds
// from this module (kube-apiserver for the API server tier; the lab adds the
// node binaries later).
package lab

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
