//go:build cgo

// Command cgostart does nothing but link libseccomp through cgo, as
// ningen does: scripts/bench.sh builds it statically like ningen and
// times it as the floor of ningen's own start (exec, the C library's and
// the Go runtime's start-up, exit), before any of ningen's code runs.
package main

// #cgo LDFLAGS: -lseccomp
// #include <seccomp.h>
import "C"

func main() { _ = C.seccomp_version() }
