//go:build unix

package launcher

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Preparation is the part of a start that needs no secret: the session's
// cgroup and its watchdog. Prepare begins it in the background, so that it
// overlaps the loading of secrets; Start waits for it and takes it over.
type Preparation struct {
	done    chan struct{}
	cg      *cgroup
	why     string
	err     error
	sigchld chan os.Signal // the reaper's
	taken   atomic.Bool
}

// Prepare makes the session's cgroup when track allows and the host lets
// ningen write one, and starts its watchdog (argv watchdog, with stderr);
// it says why the mode in force was chosen. It also asks for the reaper's
// SIGCHLD, which costs a round trip to the runtime's signal thread that a
// start would otherwise wait for. A start given up before Start must call
// Abandon.
func Prepare(track Tracking, watchdog []string, stderr *os.File) *Preparation {
	p := &Preparation{done: make(chan struct{}), sigchld: make(chan os.Signal, 1)}
	go func() {
		defer close(p.done)
		p.cg, p.why, p.err = chooseTracking(track)
		if p.cg != nil {
			startWatchdog(watchdog, p.cg.dir, stderr)
		}
		signal.Notify(p.sigchld, syscall.SIGCHLD)
	}()
	return p
}

// Abandon removes the group and stops the watchdog of a preparation no
// session took over. It is safe on nil and after Start.
func (p *Preparation) Abandon() {
	if p == nil || p.taken.Swap(true) {
		return
	}
	<-p.done
	signal.Stop(p.sigchld)
	if p.cg != nil {
		stopWatchdog()
		_ = p.cg.remove()
	}
}

// take waits for the preparation and hands it to the session.
func (p *Preparation) take() (*cgroup, string, error) {
	<-p.done
	p.taken.Store(true)
	return p.cg, p.why, p.err
}

// ErrCgroupTracking marks a --track cgroup that this host cannot give.
var ErrCgroupTracking = errors.New("cgroup tracking")

func chooseTracking(track Tracking) (*cgroup, string, error) {
	if track == TrackSubreaper {
		return nil, "asked for with --track subreaper", nil
	}
	cg, err := newCgroup()
	if err != nil {
		if track == TrackCgroup {
			return nil, "", fmt.Errorf("%w: %w", ErrCgroupTracking, err)
		}
		return nil, "no writable cgroup v2 group: " + err.Error(), nil
	}
	return cg, cg.dir, nil
}

// dropCgroup falls back to subreaper mode, removing the empty group.
func (s *Session) dropCgroup(why string) {
	if s.cg == nil {
		return
	}
	s.stopWatchdog()
	_ = s.cg.remove()
	s.cg = nil
	if why != "" {
		s.why = why
	}
}

func (s *Session) cgroupFD() int {
	if s.cg == nil {
		return -1
	}
	return s.cg.fd
}

// watchdogPid is the one child of ningen that is not a holder.
var watchdogPid atomic.Int64

func exempt(pid int) bool { return pid != 0 && int64(pid) == watchdogPid.Load() }

// startWatchdog starts `ningen watchdog` (argv), a process with no secrets
// that stays outside the session's cgroup dir and kills the group if ningen
// itself dies without running the sequence (SIGKILL, OOM). It is best
// effort: if it cannot start, PDEATHSIG still takes the direct child.
func startWatchdog(argv []string, dir string, stderr *os.File) {
	if len(argv) == 0 {
		return
	}
	args := append(append([]string(nil), argv...), "--pid", strconv.Itoa(os.Getpid()), "--cgroup", dir)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer devnull.Close()
	pidfd := -1
	attr := &syscall.ProcAttr{
		Files: []uintptr{devnull.Fd(), devnull.Fd(), stderr.Fd()},
		Sys:   watchdogAttr(&pidfd),
	}
	pid, err := syscall.ForkExec(args[0], args, attr)
	if err == nil {
		watchdogPid.Store(int64(pid))
		watchdogPidfd.Store(int32(pidfd))
	}
}

// watchdogPidfd names the watchdog even once it is reaped, so signalling
// it takes no lock; -1 without pidfds. Only stopWatchdog closes it, after
// the kill step, so no other descriptor can take its number meanwhile.
var watchdogPidfd atomic.Int32

func init() { watchdogPidfd.Store(-1) }

// stopWatchdog ends the watchdog once the group is gone, and reaps it, so
// that ningen's own parent never inherits it. Under reapMu, so the reaper
// cannot reap it first and free its pid.
func (s *Session) stopWatchdog() {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	stopWatchdog()
}

// stopWatchdog kills and reaps the watchdog; with a session, only under its
// reapMu. It waits a second at most: a holder running as root can freeze
// the watchdog (the v1 freezer), and a frozen process cannot die. One left
// behind dies when thawed, and whoever adopts it reaps it.
func stopWatchdog() {
	pid := int(watchdogPid.Swap(0))
	fd := int(watchdogPidfd.Swap(-1))
	if fd >= 0 {
		defer syscall.Close(fd)
	}
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	reapWithin(pid, fd, time.Second)
}

// reapWithin reaps pid, a child of ningen's that was just SIGKILLed, if it
// dies within limit: watched through its pidfd fd where there is one, else
// looked at every millisecond.
func reapWithin(pid, fd int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	if fd >= 0 {
		waitExit(fd, limit)
	}
	for {
		var ws syscall.WaitStatus
		if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid || (err != nil && err != syscall.EINTR) {
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitExit waits until the process of pidfd fd exits, for limit at most
// (for ever when limit < 0), and reports whether it did.
func waitExit(fd int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		ms := -1
		if limit >= 0 {
			left := time.Until(deadline)
			if left < 0 {
				return false
			}
			ms = int(left/time.Millisecond) + 1
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 1
	}
}
