//go:build unix

package hardening

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// AtStart runs before any secret is read: core dumps off for ningen and
// everything it starts, ningen made non-dumpable, and every inherited
// descriptor above 2 marked close-on-exec so the child gets exactly 0–2 and
// its deliveries. It fails closed: an error means do not go on.
func AtStart() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("set RLIMIT_CORE to 0: %w", err)
	}
	if err := notDumpable(); err != nil && !errors.Is(err, ErrUnsupported) {
		return err
	}
	return closeOnExecFrom(3)
}
