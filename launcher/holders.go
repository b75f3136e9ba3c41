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

// sweepLimit bounds how long the SIGKILL sweep waits on holders that do
// not die: a holder stuck in the kernel longer than this is reported, not
// waited on for ever. A tree that keeps forking is different: every round
// that kills a new holder starts the limit again, up to sweepCap in all,
// since giving up on it leaves the rest of it alive, and the wipe waits.
const (
	sweepLimit = 10 * time.Second
	sweepCap   = 30 * time.Second
)

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

// Kill makes sure no holder survives: it SIGKILLs the child's process
// group whole, then the children of ningen, again and again with what
// their deaths hand to ningen, the subreaper, until ningen has no child
// left (see sweep). A process with SIGKILL pending cannot finish a fork
// (the kernel aborts it at the last moment, where a pending SIGSTOP lets
// it complete), no tracer can swallow SIGKILL, and every zombie is reaped.
// A holder that leaves the child's group and forks without pause can keep
// ahead of the sweep until sweepCap, on a machine with few cores (the
// README says so); cgroup mode has no such gap.
//
// In cgroup mode one write to cgroup.kill ends the whole group first, and
// the sweep then finds only what left the group, if anything. The empty
// group is removed by Close, after the wipe: a directory holds no secret.
//
// Nothing comes before the first kill, not even a reap: under a tree that
// forks without pause ningen gets a sliver of the CPU, and a batch of
// reaps, with the lock it takes, once held the write to cgroup.kill back
// for 2.8s.
//
// The count is of the holders reaped here: ningen is the subreaper, so
// every holder that dies in this step ends up reaped by it (with any
// orphan that died just before and was not reaped yet).
func (s *Session) Kill() (int, error) {
	s.ending.Store(true)
	begun := time.Now()
	before := s.reaped.Load()
	var cgErr error
	if s.cg != nil {
		cgErr = s.cg.signalKill() // the sweep below runs whatever happens here
		if cgErr == nil {
			cgErr = s.cg.waitEmpty(sweepLimit, s.cg.signalKill)
		}
	}
	n, err := s.sweep(begun)
	killed := max(n, int(s.reaped.Load()-before))
	if err == nil {
		err = cgErr
	}
	return killed, err
}

// sweep kills ningen's tree from the top. First the child's process group,
// in one act through the child's pidfd, where ningen gave the child a
// group of its own: a fork in the group either fails or its child is
// signalled too. Then one layer a round: every holder descends from a
// child of ningen, so ningen having no child proves the tree empty. A
// child's pid stays its own until ningen reaps it, so a round signals it
// by pid, with one system call and nothing read first, as soon as it is
// listed; whatever it leaves behind, however it forked, is handed to
// ningen before its death is reported, where the next round finds it.
//
// It waits between rounds on s.sweepChld, asked for when the session
// started and never given back here: signal.Stop waits until the
// runtime's signal delivery is idle, and the SIGCHLDs of a dying tree keep
// it busy (80µs of one traced kill step of 11 processes).
//
// Its limits count from begun, when the kill step began: a cgroup that
// took long to empty has used up part of them.
func (s *Session) sweep(begun time.Time) (int, error) {
	s.sweeping.Store(true)
	progress := begun // the last round that killed a new holder (or cgroup.kill)
	if s.ownGroup {
		_ = killGroup(s.pidfd) // the child's group, whole, first: forks in it cannot race this
	}
	if s.reap() {
		// What the group kill (or cgroup.kill) took may be zombies by now:
		// reaped, they may leave ningen childless, proven by one ECHILD with
		// no list to read.
		return 0, nil
	}
	killed := 0
	for {
		n, left := s.killChildren()
		killed += n
		if left == 0 {
			return killed, nil
		}
		now := time.Now()
		if n > 0 {
			progress = now
		}
		if giveUp(now, begun, progress) {
			return killed, fmt.Errorf("%d holders still alive after %s", left, now.Sub(begun).Round(time.Second))
		}
		if n > 0 {
			continue // their deaths are coming: list again for what they hand over
		}
		select {
		case <-s.sweepChld:
		case <-time.After(sweepPause):
		}
	}
}

// giveUp says whether a sweep begun at begun, whose last new kill was at
// progress, stops at now with holders left.
func giveUp(now, begun, progress time.Time) bool {
	return now.Sub(progress) > sweepLimit || now.Sub(begun) > sweepCap
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
	if pid <= 0 {
		return false
	}
	if s.cg != nil && s.cg.contains(pid) {
		return true
	}
	t := scanTree()
	return pid != t.self() && t.members[pid]
}
