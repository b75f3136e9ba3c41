// Command floor is the least a wrapper can do: given arguments, it runs
// them as a command, waits for it and exits; without, it only starts and
// exits. scripts/bench.sh times it beside ningen as the floor of any
// wrapper written in Go: built plainly, and built with -tags linkseccomp,
// statically like ningen, so that it links libseccomp through cgo as
// ningen must (exec, the C library's and the Go runtime's start-up).
package main

import (
	"os"
	"syscall"
)

func main() {
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
