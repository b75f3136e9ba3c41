//go:build !linux

package signals

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Die ends ningen as e says; to die of a signal it resets the handler and
// raises it. SIGQUIT would become a Go stack dump here, so it exits 131.
func Die(e Exit) {
	if e.Signal != 0 && e.Signal != syscall.SIGQUIT {
		signal.Reset(e.Signal)
		_ = syscall.Kill(os.Getpid(), e.Signal)
		time.Sleep(100 * time.Millisecond)
	}
	os.Exit(e.Code)
}

func platformCrashing() []os.Signal { return nil }
func platformIgnored() []os.Signal  { return nil }
