// Command gostart is cgostart without cgo: the floor of a pure Go wrapper
// (exec, the Go runtime's start-up, then, given arguments, one fork and
// exec of them and one wait), for scripts/bench.sh.
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
