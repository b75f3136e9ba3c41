package signals

import (
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Forwarded are the signals passed on to the child untouched. It is an
// explicit list: the runtime's own signals (SIGURG for preemption, SIGCHLD)
// are never forwarded.
var Forwarded = []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// Ending are the signals that fire the sequence. SIGINT is one only when
// the session is not interactive: with a terminal, Ctrl-C is the child's.
var Ending = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGINT}

// crashing and ignoredByGo are the other signals whose default action
// would end a process. They fire the sequence with SIGTERM as the first
// signal to holders, and ningen then dies of them, as any program would.
//
// crashing are those the Go runtime would turn into a stack dump (exit 2)
// without the sequence; sent with kill(2), even SIGSEGV and SIGBUS can be
// caught. They are caught before any secret is read.
var crashing = append([]os.Signal{syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
	syscall.SIGSEGV, syscall.SIGTRAP, syscall.SIGSYS}, platformCrashing()...)

// ignoredByGo are those the runtime ignores unless they are asked for, so
// until they are caught they cannot end ningen at all. (SIGPROF is the
// runtime's own, for profiling: it never reaches ningen.)
var ignoredByGo = append([]os.Signal{syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
	syscall.SIGALRM, syscall.SIGIO}, platformIgnored()...)

// WatchOptions say which triggers to arm.
type WatchOptions struct {
	TTL         time.Duration            // 0: none
	Interactive func() bool              // true: SIGINT goes to the child, not the sequence
	Forward     func(sig syscall.Signal) // sends a signal to the child
	Done        <-chan struct{}          // closed when the watchers may stop
}

// Watch arms every trigger of SPEC §5 except the child's exit, which the
// launcher reports: the ending signals, the TTL, and the death of ningen's
// parent. It also catches SIGPIPE so that an audit line written to a closed
// stderr cannot kill ningen mid-sequence (a caught signal, unlike an
// ignored one, is reset for the child on exec).
//
// The signals the runtime ignores unless asked for are left to the
// function it returns, for the caller to run once the child has started:
// until they are caught the runtime ignores them, so nothing is lost but
// such a signal sent to a session that is not yet running, and asking for
// each costs a round trip to the runtime's signal thread (20-40 µs; for
// those forty about a millisecond a start would otherwise wait for). Once
// the sequence has fired it asks for the rest beside it. The forwarded
// signals are caught at once: a child may signal ningen as soon as it runs.
func Watch(s *Sequence, o WatchOptions) (catchRest func()) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, slices.Concat([]os.Signal{syscall.SIGPIPE}, Ending, crashing, Forwarded)...)
	catchRest = func() {
		for i, sig := range ignoredByGo {
			if s.Fired() {
				// The sequence runs: the rest are caught beside it, where a
				// second trigger among them can still cut the grace short.
				go signal.Notify(ch, ignoredByGo[i:]...)
				return
			}
			signal.Notify(ch, sig)
		}
	}
	go func() {
		for {
			select {
			case sig := <-ch:
				dispatch(s, o, sig.(syscall.Signal))
			case <-o.Done:
				return
			}
		}
	}()
	if o.TTL > 0 {
		t := time.AfterFunc(o.TTL, func() { s.Fire(Trigger{Cause: TTL}) })
		go func() { <-o.Done; t.Stop() }()
	}
	watchParent(func() { s.Fire(Trigger{Cause: ParentDied}) }, o.Done)
	return catchRest
}

func dispatch(s *Sequence, o WatchOptions, sig syscall.Signal) {
	switch {
	case sig == syscall.SIGPIPE:
	case sig == syscall.SIGINT && o.Interactive != nil && o.Interactive(),
		sig == syscall.SIGUSR1, sig == syscall.SIGUSR2, sig == syscall.SIGWINCH:
		if o.Forward != nil {
			o.Forward(sig)
		}
	default:
		s.Fire(Trigger{Cause: Signal, Signal: sig})
	}
}

// SignalName is the conventional name: SIGTERM, SIGINT, ...; a real-time
// signal, which has none, is SIG and its number (SIG40).
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "SIG" + strconv.Itoa(int(sig))
}
