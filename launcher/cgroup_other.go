//go:build unix && !linux

package launcher

import (
	"errors"
	"time"
)

// There is no cgroup v2 off Linux: tracking is always by process group.
type cgroup struct {
	dir string
	fd  int
}

func newCgroup() (*cgroup, error) { return nil, errors.New("cgroups are Linux only") }

func (*cgroup) procs() []int      { return nil }
func (*cgroup) contains(int) bool { return false }
func (*cgroup) populated() bool   { return false }
func (*cgroup) kill() error       { return nil }
func (*cgroup) signalKill() error { return nil }

func (*cgroup) waitEmpty(time.Duration, func() error) error { return nil }
func (*cgroup) remove() error                               { return nil }

// There is no watchdog without cgroups.
func (*cgroup) startWatchdog([]string) {}

// RunWatchdog has nothing to watch without cgroups.
func RunWatchdog(int, string, int, bool) error {
	return errors.New("the watchdog needs cgroup v2 (Linux)")
}
