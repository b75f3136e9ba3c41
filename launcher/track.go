//go:build unix

package launcher

import (
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// chooseTracking makes the session's cgroup when the mode allows and the
// host lets ningen write one, and says why the mode in force was chosen.
func (s *Session) chooseTracking() error {
	if s.cfg.Track == TrackSubreaper {
		s.why = "asked for with --track subreaper"
		return nil
	}
	cg, err := newCgroup()
	if err != nil {
		if s.cfg.Track == TrackCgroup {
			return &os.SyscallError{Syscall: "cgroup tracking", Err: err}
		}
		s.why = "no writable cgroup v2 group: " + err.Error()
		return nil
	}
	s.cg = cg
	s.why = cg.dir
	s.startWatchdog()
	return nil
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

// startWatchdog starts `ningen watchdog`, a process with no secrets that
// stays outside the session's cgroup and kills the group if ningen itself
// dies without running the sequence (SIGKILL, OOM). It is best effort: if
// it cannot start, PDEATHSIG still takes the direct child.
func (s *Session) startWatchdog() {
	if len(s.cfg.Watchdog) == 0 {
		return
	}
	args := append(append([]string(nil), s.cfg.Watchdog...),
		"--pid", strconv.Itoa(os.Getpid()), "--cgroup", s.cg.dir)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer devnull.Close()
	attr := &syscall.ProcAttr{
		Files: []uintptr{devnull.Fd(), devnull.Fd(), s.cfg.Stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	pid, err := syscall.ForkExec(args[0], args, attr)
	if err == nil {
		watchdogPid.Store(int64(pid))
	}
}

// stopWatchdog ends the watchdog once the group is gone, and reaps it, so
// that ningen's own parent never inherits it. Under reapMu, so the reaper
// cannot reap it first and free its pid.
func (s *Session) stopWatchdog() {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	pid := int(watchdogPid.Swap(0))
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, 0, nil)
}
