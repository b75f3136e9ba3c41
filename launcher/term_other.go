//go:build unix && !linux

package launcher

import (
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	getTermios = unix.TIOCGETA
	setTermios = unix.TIOCSETA
)

// withTTOUBlocked ignores SIGTTOU around fn: x/sys has no per-thread signal
// mask here. The child never starts during fn, so it inherits no SIG_IGN.
func withTTOUBlocked(fn func()) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	fn()
}
