//go:build unix && !linux

package launcher

import (
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Off Linux there is no subreaper, no PDEATHSIG and no pidfd: ningen can
// only follow the child's process group. The platform notice says so.

func sysProcAttr(foreground, ownGroup bool, _ int, _ *int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: ownGroup, Foreground: foreground, Ctty: 0}
}

// killGroup: no pidfds here; the sweep kills the group by its id.
func killGroup(int) error { return unix.ENOSYS }

func becomeSubreaper() error { return nil }

func warmScan() {}

func growPipe(*os.File, int) {}

var group atomic.Int64

type tree struct {
	live    []int
	members map[int]bool
}

func (tree) ours(int) bool { return true }

func (tree) self() int { return os.Getpid() }

// childless is never what a wait says here: without a subreaper, ningen
// having no child proves nothing about the group, and the scan decides.
const childless = unix.Errno(0)

// reapFlags: collect without blocking, and report the child's stops.
const reapFlags = unix.WNOHANG | unix.WUNTRACED

// scanTree reports the child's process group as one holder while any
// member of it is alive.
func scanTree() tree {
	g := int(group.Load())
	if g <= 0 || unix.Kill(-g, 0) != nil {
		return tree{}
	}
	return tree{live: []int{-g}}
}

func signalHolder(pid int, sig syscall.Signal, _ func(int) bool) error {
	return unix.Kill(pid, sig)
}

func trackGroup(pgid int) { group.Store(int64(pgid)) }

// killChildren is one round of the sweep: off Linux, the child's process
// group is the tree, SIGKILLed whole while any member is alive. It reports
// none signalled, so the sweep waits between rounds; the reaper counts.
func (s *Session) killChildren() (signalled, left int) {
	s.reap()
	t := scanTree()
	for _, pid := range t.live {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	return 0, len(t.live)
}
