package signals

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Cause is what fired a trigger.
type Cause int

const (
	ChildExited Cause = iota + 1
	Signal
	TTL
	ParentDied
	Panic
)

// Trigger is one event that ends the session.
type Trigger struct {
	Cause  Cause
	Signal syscall.Signal // for Cause == Signal
}

func (t Trigger) String() string {
	switch t.Cause {
	case ChildExited:
		return "child-exit"
	case Signal:
		return "signal:" + SignalName(t.Signal)
	case TTL:
		return "ttl"
	case ParentDied:
		return "parent-died"
	case Panic:
		return "panic"
	}
	return fmt.Sprintf("cause(%d)", int(t.Cause))
}

// Holders is what step 1 acts on: every process that may hold a secret.
type Holders interface {
	Signal(sig syscall.Signal) int // polite signal to all; how many were reached
	Gone() <-chan struct{}         // closed once none is alive
	Kill() (int, error)            // SIGKILL every one, reap all; how many were killed
	Status() (code int, ok bool)   // the child's exit code, once it has exited
}

// Clock is the time source; Real is the wall clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Real is the wall clock.
var Real Clock = realClock{}

// Step is one audit event of the sequence.
type Step struct {
	Name     string // "kill", "wipe" or "exit"
	Trigger  Trigger
	Signaled int           // kill: holders that got the first signal
	Killed   int           // kill: holders that needed SIGKILL
	Bytes    int           // wipe: bytes zeroed and verified
	Took     time.Duration // how long the step took
	Exit     Exit          // exit: how ningen leaves
	Err      error
}

// Exit is how ningen ends: with a code, or by dying of a signal.
type Exit struct {
	Code   int
	Signal syscall.Signal // non-zero: re-raise this instead of exiting
}

// Codes of SPEC §5.
const (
	CodeTTL        = 124
	CodeParentDied = 129 // as for a hang-up: the caller is gone
	// CodeKillFailed: the kill step reported holders it could not kill.
	// It overrides the trigger's own ending: a caller must not take such a
	// session for a clean one.
	CodeKillFailed = 125
)

// Sequence is the kill sequence. Set the fields, then call Run once; Fire
// may be called from anywhere, any number of times, before or after.
type Sequence struct {
	Holders Holders
	Wipe    func() (int, error)
	Exit    func(Exit) // step 3; must not return in production
	Grace   time.Duration
	Clock   Clock
	Audit   func(Step)

	once    sync.Once
	first   chan Trigger
	firedC  chan struct{}
	hurry   chan struct{}
	fired   atomic.Bool
	hurried atomic.Bool
}

func (s *Sequence) init() {
	s.once.Do(func() {
		s.first = make(chan Trigger, 1)
		s.firedC = make(chan struct{})
		s.hurry = make(chan struct{})
		if s.Clock == nil {
			s.Clock = Real
		}
		if s.Audit == nil {
			s.Audit = func(Step) {}
		}
	})
}

// Fire reports a trigger. The first one starts the sequence; a later one
// that is not the child's own exit makes the grace period end now.
func (s *Sequence) Fire(t Trigger) {
	s.init()
	if s.fired.CompareAndSwap(false, true) {
		s.first <- t
		close(s.firedC)
		return
	}
	if t.Cause != ChildExited && s.hurried.CompareAndSwap(false, true) {
		close(s.hurry)
	}
}

// Fired reports whether a trigger has fired.
func (s *Sequence) Fired() bool { return s.fired.Load() }

// Triggered is closed when the first trigger fires: a start still loading
// secrets uses it to stop waiting on a prompt or a command.
func (s *Sequence) Triggered() <-chan struct{} {
	s.init()
	return s.firedC
}

// Run waits for the first trigger and runs the three steps, once.
func (s *Sequence) Run() {
	s.init()
	t := <-s.first
	killErr := s.kill(t)
	s.wipe(t)
	e := s.exitFor(t)
	if killErr != nil {
		e = Exit{Code: CodeKillFailed}
	}
	s.Audit(Step{Name: "exit", Trigger: t, Exit: e})
	s.Exit(e)
}

// politeSignal is the first signal holders get: the one that triggered the
// sequence, so a child sees what it would have seen without ningen, or
// SIGTERM.
func politeSignal(t Trigger) syscall.Signal {
	if t.Cause == Signal && slices.Contains(Ending, os.Signal(t.Signal)) {
		return t.Signal
	}
	return syscall.SIGTERM
}

func (s *Sequence) kill(t Trigger) error {
	start := s.Clock.Now()
	step := Step{Name: "kill", Trigger: t}
	if s.Grace > 0 {
		step.Signaled = s.Holders.Signal(politeSignal(t))
	}
	if step.Signaled > 0 {
		select {
		case <-s.Holders.Gone():
		case <-s.Clock.After(s.Grace):
		case <-s.hurry:
		}
	}
	step.Killed, step.Err = s.Holders.Kill()
	step.Took = s.Clock.Now().Sub(start)
	s.Audit(step)
	return step.Err
}

func (s *Sequence) wipe(t Trigger) {
	start := s.Clock.Now()
	n, err := s.Wipe()
	s.Audit(Step{Name: "wipe", Trigger: t, Bytes: n, Err: err, Took: s.Clock.Now().Sub(start)})
}

func (s *Sequence) exitFor(t Trigger) Exit {
	switch t.Cause {
	case Signal:
		return Exit{Code: 128 + int(t.Signal), Signal: t.Signal}
	case TTL:
		return Exit{Code: CodeTTL}
	case ParentDied:
		return Exit{Code: CodeParentDied}
	}
	if code, ok := s.Holders.Status(); ok {
		return Exit{Code: code}
	}
	return Exit{Code: 128 + int(syscall.SIGKILL)}
}
