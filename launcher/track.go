//go:build unix

package launcher

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
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
// ningen write one, and starts its watchdog (argv watchdog);
// it says why the mode in force was chosen. It also asks for the reaper's
// SIGCHLD, which costs a round trip to the runtime's signal thread that a
// start would otherwise wait for. A start given up before Start must call
// Abandon.
func Prepare(track Tracking, watchdog []string) *Preparation {
	p := &Preparation{done: make(chan struct{}), sigchld: make(chan os.Signal, 1)}
	go func() {
		defer close(p.done)
		p.cg, p.why, p.err = chooseTracking(track)
		if p.cg != nil {
			p.cg.startWatchdog(watchdog)
		}
		signal.Notify(p.sigchld, syscall.SIGCHLD)
	}()
	return p
}

// Abandon removes the group of a preparation no session took over, and
// retires its watchdog. It is safe on nil and after Start.
func (p *Preparation) Abandon() {
	if p == nil || p.taken.Swap(true) {
		return
	}
	<-p.done
	signal.Stop(p.sigchld)
	if p.cg != nil {
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
