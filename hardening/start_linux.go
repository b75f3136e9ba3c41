//go:build linux

package hardening

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func notDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_DUMPABLE 0: %w", err)
	}
	return nil
}

// closeOnExecFrom marks every descriptor from first up close-on-exec, with
// close_range where the kernel has it (5.11) and one fcntl each otherwise.
func closeOnExecFrom(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	names, err := readFDs()
	if err != nil {
		return fmt.Errorf("list open descriptors: %w", err)
	}
	for _, fd := range names {
		if fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

func readFDs() ([]int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// Missing names the guarantees of SPEC §2 that cannot hold on this platform.
func Missing() []string { return nil }
