//go:build unix

package launcher

import (
	"fmt"
	"syscall"
	"time"
)

// sweepPause is how long the kill loop and the grace watch wait between
// looks at the process table. Only product polling: the kernel offers no
// event for "a grandchild died".
const sweepPause = 2 * time.Millisecond

// sweepLimit bounds the SIGKILL sweep; a holder stuck in the kernel longer
// than this is reported, not waited on for ever.
const sweepLimit = 10 * time.Second

// Signal sends sig to every live holder and returns how many it reached:
// every descendant of ningen and, in cgroup mode, every process in the
// session's group (one that left ningen's tree included).
func (s *Session) Signal(sig syscall.Signal) int {
	s.reap()
	t := scanTree()
	n := 0
	for _, pid := range t.live {
		if signalHolder(pid, sig, t.ours) == nil {
			n++
		}
	}
	if s.cg == nil {
		return n
	}
	for _, pid := range s.cg.procs() {
		if !t.members[pid] && signalHolder(pid, sig, func(int) bool { return s.cg.contains(pid) }) == nil {
			n++
		}
	}
	return n
}

// Gone returns a channel closed once no live holder is left.
func (s *Session) Gone() <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			s.reap()
			if len(scanTree().live) == 0 && (s.cg == nil || !s.cg.populated()) {
				return
			}
			select {
			case <-s.release:
				return
			case <-time.After(sweepPause):
			}
		}
	}()
	return gone
}

// Kill makes sure no holder survives: each round freezes the tree with
// SIGSTOP until a look finds no new process, then SIGKILLs all of it, and
// rounds repeat until a look finds nobody. Every zombie is reaped. It
// returns how many processes it killed.
//
// In cgroup mode one write to cgroup.kill ends the whole group first, and
// the sweep then finds only what left the group, if anything; the group is
// removed at the end.
func (s *Session) Kill() (int, error) {
	killed := 0
	var cgErr error
	if s.cg != nil {
		killed = len(s.cg.procs())
		cgErr = s.cg.kill() // the sweep below runs whatever happened here
	}
	n, err := s.sweep()
	killed += n
	if err == nil {
		err = cgErr
	}
	if s.cg != nil {
		if rerr := s.cg.remove(); rerr != nil && err == nil {
			err = rerr
		}
	}
	return killed, err
}

func (s *Session) sweep() (int, error) {
	killed := 0
	deadline := time.Now().Add(sweepLimit)
	for {
		s.reap()
		t := scanTree()
		if len(t.live) == 0 && len(t.zombies) == 0 {
			return killed, nil
		}
		if time.Now().After(deadline) {
			return killed, fmt.Errorf("%d holders still alive after %s", len(t.live), sweepLimit)
		}
		killed += s.freezeAndKill(t)
		time.Sleep(sweepPause)
	}
}

func (s *Session) freezeAndKill(t tree) int {
	stopped := map[int]bool{}
	for len(t.live) > 0 {
		grew := false
		for _, pid := range t.live {
			if !stopped[pid] {
				stopped[pid] = true
				grew = true
				_ = signalHolder(pid, syscall.SIGSTOP, t.ours)
			}
		}
		if !grew {
			break
		}
		t = scanTree()
	}
	n := 0
	for pid := range stopped {
		if signalHolder(pid, syscall.SIGKILL, t.ours) == nil {
			n++
		}
	}
	return n
}

// IsHolder reports whether pid is, right now, one of the session's
// holders: a descendant of ningen or, in cgroup mode, a member of the
// session's group. The tool server uses it to accept a connection.
func (s *Session) IsHolder(pid int) bool {
	if pid <= 0 || exempt(pid) {
		return false
	}
	if s.cg != nil && s.cg.contains(pid) {
		return true
	}
	t := scanTree()
	return pid != t.self() && t.members[pid]
}
