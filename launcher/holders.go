//go:build unix

package launcher

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// sweepPause is the longest the kill loop and the grace watch wait between
// looks at the process table. They look again as soon as a child of ningen
// changes state (SIGCHLD), which every death in the tree causes sooner or
// later: ningen is the subreaper, so a dead holder's orphans, and its zombie
// once its own parent dies, come to ningen. The pause covers what no event
// reports: a holder dying while its parent, also a holder, lives on.
const sweepPause = 10 * time.Millisecond

// sweepLimit bounds the SIGKILL sweep; a holder stuck in the kernel longer
// than this is reported, not waited on for ever.
const sweepLimit = 10 * time.Second

// Signal sends sig to every live holder and returns how many it reached:
// every descendant of ningen and, in cgroup mode, every process in the
// session's group (one that left ningen's tree included).
func (s *Session) Signal(sig syscall.Signal) int {
	s.ending.Store(true)
	if s.reap() && s.cg == nil {
		return 0 // no child at all, so no descendant
	}
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
		events, stop := childEvents()
		defer stop()
		for {
			childless := s.reap()
			if (childless || len(scanTree().live) == 0) && (s.cg == nil || !s.cg.populated()) {
				return
			}
			select {
			case <-s.release:
				return
			case <-events:
			case <-time.After(sweepPause):
			}
		}
	}()
	return gone
}

// Kill makes sure no holder survives: each round SIGKILLs every holder a
// look at the process table finds, and rounds repeat until a look finds
// nobody. A holder it signals cannot get away: a process with SIGKILL
// pending cannot finish a fork (the kernel aborts it at the last moment,
// where a pending SIGSTOP lets it complete), no tracer can swallow
// SIGKILL, and whatever a killed holder leaves is reparented to ningen,
// the subreaper, where the next look finds it. A holder that forks and
// exits between being listed and being signalled can, and a tree built to
// do that faster than a look reads /proc outruns the sweep until
// sweepLimit (the README says so); only cgroup mode is proof against it.
// Every zombie is reaped. It returns how many processes it killed.
//
// In cgroup mode one write to cgroup.kill ends the whole group first, and
// the sweep then finds only what left the group, if anything; the group is
// removed at the end.
//
// The count is of the holders reaped here: ningen is the subreaper, so
// every holder that dies in this step ends up reaped by it.
func (s *Session) Kill() (int, error) {
	s.ending.Store(true)
	s.reap() // what died before this step was not killed by it
	before := s.reaped.Load()
	var cgErr error
	if s.cg != nil {
		go warmScan()             // the sweep's look after the kill finds its files open
		cgErr = s.cg.signalKill() // the sweep below runs whatever happens here
		if cgErr == nil {
			s.retireWatchdog() // every member is bound to die: nothing is left to watch
			cgErr = s.cg.waitEmpty(sweepLimit)
		}
	}
	n, err := s.sweep()
	killed := max(n, int(s.reaped.Load()-before))
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

// sweep kills and reaps until a look finds no holder, live or zombie,
// and saw nothing die while it looked. That last part matters: a holder
// that forks and exits hands its child to ningen, the subreaper, at the
// end of ningen's list of children, where a look that had read past that
// point would miss it; the holder's death shows, though, as a holder that
// vanished between being listed and being read, or as a child ningen
// reaped during the look. A holder still dying when the next look comes
// is signalled again but counted once. A zombie that outlasts a look is
// signalled too: a process whose first thread has exited shows as a
// zombie while its other threads still run, and SIGKILL to it ends them
// all (to a true zombie it does nothing).
func (s *Session) sweep() (int, error) {
	events, stop := childEvents()
	defer stop()
	killed := map[int]bool{}
	var lastZombies map[int]bool
	deadline := time.Now().Add(sweepLimit)
	for {
		if s.reap() {
			return len(killed), nil // no child at all, so no descendant
		}
		waits := s.waits.Load()
		t := scanTree()
		empty := len(t.live) == 0 && len(t.zombies) == 0
		if empty && t.vanished == 0 && s.waits.Load() == waits {
			return len(killed), nil
		}
		if time.Now().After(deadline) {
			return len(killed), fmt.Errorf("%d holders still alive after %s", len(t.live)+len(t.zombies), sweepLimit)
		}
		if empty {
			continue // something died during the look: look again
		}
		for _, pid := range t.live {
			if signalHolder(pid, syscall.SIGKILL, t.ours) == nil {
				killed[pid] = true
			}
		}
		zombies := map[int]bool{}
		for _, pid := range t.zombies {
			zombies[pid] = true
			if lastZombies[pid] {
				_ = signalHolder(pid, syscall.SIGKILL, t.ours)
			}
		}
		lastZombies = zombies
		select {
		case <-events:
		case <-time.After(sweepPause):
		}
	}
}

// childEvents reports, on a channel that holds one event, that some child
// of ningen changed state since the last receive.
func childEvents() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGCHLD)
	return c, func() { signal.Stop(c) }
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
