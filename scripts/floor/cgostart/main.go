//go:build cgo

// Command cgostart links libseccomp through cgo, as ningen does, and does
// nothing else but run its arguments, if any, as a command and wait for it:
// scripts/bench.sh builds it statically like ningen and times it as the
// floor of any wrapper written that way (exec, the C library's and the Go
// runtime's start-up, one fork and exec, one wait, exit), before any of
// ningen's own work.
package main

// #cgo LDFLAGS: -lseccomp
// #include <seccomp.h>
import "C"

import (
	"os"
	"syscall"
)

func main() {
	_ = C.seccomp_version()
	if len(os.Args) < 2 {
		return
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Exit(127)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		os.Exit(1)
	}
}
