//go:build cgo && linkseccomp

package main

// #cgo LDFLAGS: -lseccomp
// #include <seccomp.h>
import "C"

// Linking alone is what is timed; the call keeps the library linked in.
func init() { _ = C.seccomp_version() }
