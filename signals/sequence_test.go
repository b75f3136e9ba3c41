//go:build unix

package signals_test

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ningen-shikkaku/ningen/signals"
)

// wait is the failure guard of every channel wait: it never paces the test.
const wait = 10 * time.Second

// randInt returns a random int in [lo, hi).
func randInt(t testing.TB, lo, hi int) int {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return lo + int(binary.LittleEndian.Uint64(b[:])%uint64(hi-lo))
}

// journal is the ordered log that every fake writes to.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *journal) entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.log)
}

type fakeHolders struct {
	j        *journal
	reached  int // what Signal reports
	killed   int // what Kill reports
	killErr  error
	gone     chan struct{}
	code     int
	exited   bool
	signaled chan syscall.Signal // every polite signal, as it is sent
	killOnce sync.Once
	kill     chan struct{} // closed by the first Kill
}

func (h *fakeHolders) Signal(sig syscall.Signal) int {
	h.j.add("signal " + signals.SignalName(sig))
	h.signaled <- sig
	return h.reached
}

func (h *fakeHolders) Gone() <-chan struct{} { return h.gone }

func (h *fakeHolders) Kill() (int, error) {
	h.j.add("kill")
	h.killOnce.Do(func() { close(h.kill) })
	return h.killed, h.killErr
}

func (h *fakeHolders) Status() (int, bool) { return h.code, h.exited }

// fakeClock hands out one channel the test controls and reports each After.
type fakeClock struct {
	fire   chan time.Time // unbuffered: a send proves the sequence was waiting
	asked  chan time.Duration
	now    time.Time
	nowMu  sync.Mutex
	nowCnt int
}

func (c *fakeClock) Now() time.Time {
	c.nowMu.Lock()
	defer c.nowMu.Unlock()
	c.nowCnt++
	return c.now.Add(time.Duration(c.nowCnt) * time.Millisecond)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.asked <- d
	return c.fire
}

// rig is a Sequence wired to fakes.
type rig struct {
	j       *journal
	h       *fakeHolders
	clock   *fakeClock
	seq     *signals.Sequence
	wiped   int
	exitsMu sync.Mutex
	exits   []signals.Exit
	steps   []signals.Step
	done    chan struct{} // closed when Run returns
}

func newRig(t *testing.T, grace time.Duration) *rig {
	j := &journal{}
	r := &rig{
		j: j,
		h: &fakeHolders{
			j: j, reached: randInt(t, 1, 50), killed: randInt(t, 0, 50),
			gone: make(chan struct{}), signaled: make(chan syscall.Signal, 200), kill: make(chan struct{}),
		},
		clock: &fakeClock{fire: make(chan time.Time), asked: make(chan time.Duration, 200), now: time.Unix(1e9, 0)},
		wiped: randInt(t, 1, 1<<20),
		done:  make(chan struct{}),
	}
	r.seq = &signals.Sequence{
		Holders: r.h,
		Wipe: func() (int, error) {
			j.add("wipe")
			return r.wiped, nil
		},
		Exit: func(e signals.Exit) {
			j.add("exit")
			r.exitsMu.Lock()
			r.exits = append(r.exits, e)
			r.exitsMu.Unlock()
		},
		Grace: grace,
		Clock: r.clock,
		Audit: func(s signals.Step) {
			r.exitsMu.Lock()
			r.steps = append(r.steps, s)
			r.exitsMu.Unlock()
		},
	}
	return r
}

func (r *rig) run() {
	go func() {
		defer close(r.done)
		r.seq.Run()
	}()
}

func (r *rig) waitDone(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(wait):
		t.Fatalf("the sequence did not finish; log so far %v", r.j.entries())
	}
}

func (r *rig) waitGrace(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-r.clock.asked:
		return d
	case <-r.done:
		t.Fatalf("the sequence ended without waiting out a grace period: %v", r.j.entries())
	case <-time.After(wait):
		t.Fatalf("the sequence never started the grace period; log %v", r.j.entries())
	}
	return 0
}

// exit returns the one Exit the sequence made.
func (r *rig) exit(t *testing.T) signals.Exit {
	t.Helper()
	r.exitsMu.Lock()
	defer r.exitsMu.Unlock()
	if len(r.exits) != 1 {
		t.Fatalf("Exit called %d times, want once", len(r.exits))
	}
	return r.exits[0]
}

func (r *rig) auditSteps() []signals.Step {
	r.exitsMu.Lock()
	defer r.exitsMu.Unlock()
	return slices.Clone(r.steps)
}

func wantLog(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("sequence log %q, want %q", got, want)
	}
}

func sig(s syscall.Signal) signals.Trigger {
	return signals.Trigger{Cause: signals.Signal, Signal: s}
}

// TestSequenceOrderAndExit runs the sequence for each kind of trigger, with
// holders that leave politely: polite signal, kill, wipe, exit, each once,
// and ningen leaves as SPEC §5 says.
func TestSequenceOrderAndExit(t *testing.T) {
	code := randInt(t, 1, 120)
	for _, tc := range []struct {
		name   string
		tr     signals.Trigger
		exited bool
		polite syscall.Signal
		exit   signals.Exit
	}{
		{"SIGTERM", sig(syscall.SIGTERM), true, syscall.SIGTERM, signals.Exit{Code: 128 + 15, Signal: syscall.SIGTERM}},
		{"SIGINT", sig(syscall.SIGINT), true, syscall.SIGINT, signals.Exit{Code: 128 + 2, Signal: syscall.SIGINT}},
		{"SIGHUP", sig(syscall.SIGHUP), true, syscall.SIGHUP, signals.Exit{Code: 128 + 1, Signal: syscall.SIGHUP}},
		{"SIGQUIT", sig(syscall.SIGQUIT), true, syscall.SIGQUIT, signals.Exit{Code: 128 + 3, Signal: syscall.SIGQUIT}},
		{"ttl", signals.Trigger{Cause: signals.TTL}, true, syscall.SIGTERM, signals.Exit{Code: 124}},
		{"parent-died", signals.Trigger{Cause: signals.ParentDied}, true, syscall.SIGTERM, signals.Exit{Code: 129}},
		{"child-exit", signals.Trigger{Cause: signals.ChildExited}, true, syscall.SIGTERM, signals.Exit{Code: code}},
		{"child-exit, no status", signals.Trigger{Cause: signals.ChildExited}, false, syscall.SIGTERM, signals.Exit{Code: 128 + 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 2*time.Second)
			r.h.code, r.h.exited = code, tc.exited
			r.seq.Fire(tc.tr) // before Run: the trigger waits for it
			r.run()
			if d := r.waitGrace(t); d != 2*time.Second {
				t.Errorf("grace wait of %s, want the configured 2s", d)
			}
			close(r.h.gone) // every holder left after the polite signal
			r.waitDone(t)
			wantLog(t, r.j.entries(), "signal "+signals.SignalName(tc.polite), "kill", "wipe", "exit")
			if got := r.exit(t); got != tc.exit {
				t.Errorf("exit %+v, want %+v", got, tc.exit)
			}
			steps := r.auditSteps()
			var names []string
			for _, s := range steps {
				names = append(names, s.Name)
				if s.Trigger != tc.tr {
					t.Errorf("audit step %s names trigger %v, want %v", s.Name, s.Trigger, tc.tr)
				}
				if s.Err != nil {
					t.Errorf("audit step %s: %v", s.Name, s.Err)
				}
			}
			if !slices.Equal(names, []string{"kill", "wipe", "exit"}) {
				t.Fatalf("audit steps %v, want kill, wipe, exit", names)
			}
			if steps[0].Signaled != r.h.reached || steps[0].Killed != r.h.killed {
				t.Errorf("kill step says %d signaled, %d killed; holders said %d and %d", steps[0].Signaled, steps[0].Killed, r.h.reached, r.h.killed)
			}
			if steps[1].Bytes != r.wiped {
				t.Errorf("wipe step says %d bytes, the wipe said %d", steps[1].Bytes, r.wiped)
			}
			if steps[2].Exit != tc.exit {
				t.Errorf("exit step says %+v, want %+v", steps[2].Exit, tc.exit)
			}
		})
	}
}

// TestSequenceGraceZero: no polite signal, no wait, straight to SIGKILL.
func TestSequenceGraceZero(t *testing.T) {
	r := newRig(t, 0)
	r.run()
	r.seq.Fire(sig(syscall.SIGTERM))
	r.waitDone(t)
	wantLog(t, r.j.entries(), "kill", "wipe", "exit")
	if len(r.clock.asked) != 0 {
		t.Errorf("Grace 0 still waited on the clock")
	}
	if got := r.exit(t); got.Signal != syscall.SIGTERM {
		t.Errorf("exit %+v, want to die of SIGTERM", got)
	}
}

// TestSequenceKillFailedExits125: a kill step that reports survivors
// still wipes, and ningen exits 125 whatever the trigger asked for.
func TestSequenceKillFailedExits125(t *testing.T) {
	r := newRig(t, 0)
	r.h.killErr = errors.New("3 holders still alive after 10s")
	r.run()
	r.seq.Fire(sig(syscall.SIGTERM))
	r.waitDone(t)
	wantLog(t, r.j.entries(), "kill", "wipe", "exit")
	if got := r.exit(t); got != (signals.Exit{Code: signals.CodeKillFailed}) {
		t.Errorf("exit %+v, want code %d", got, signals.CodeKillFailed)
	}
}

// TestSequenceNobodyReached: when the polite signal reaches no one, there
// is nothing to wait for.
func TestSequenceNobodyReached(t *testing.T) {
	r := newRig(t, 2*time.Second)
	r.h.reached = 0
	r.run()
	r.seq.Fire(signals.Trigger{Cause: signals.TTL})
	r.waitDone(t)
	wantLog(t, r.j.entries(), "signal SIGTERM", "kill", "wipe", "exit")
	if len(r.clock.asked) != 0 {
		t.Errorf("the sequence waited out the grace with no holder signaled")
	}
}

// TestSequenceConcurrentFire fires 100 triggers of mixed kinds at once:
// one sequence runs, in order, and its exit is the one its first trigger
// asks for.
func TestSequenceConcurrentFire(t *testing.T) {
	triggers := []signals.Trigger{sig(syscall.SIGTERM), sig(syscall.SIGHUP), {Cause: signals.ChildExited}, {Cause: signals.TTL}}
	for round := range 20 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			r := newRig(t, 2*time.Second)
			r.h.code, r.h.exited = randInt(t, 0, 120), true
			r.run()
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r.seq.Fire(triggers[i%len(triggers)])
				}()
			}
			close(start)
			wg.Wait()
			// Among 99 later triggers at least one is external: it ends the
			// grace. The fake clock never fires.
			r.waitDone(t)
			log := r.j.entries()
			if len(log) != 4 || !strings.HasPrefix(log[0], "signal ") {
				t.Fatalf("sequence log %q, want one polite signal, kill, wipe, exit", log)
			}
			wantLog(t, log[1:], "kill", "wipe", "exit")
			steps := r.auditSteps()
			if len(steps) != 3 {
				t.Fatalf("%d audit steps, want 3", len(steps))
			}
			first := steps[0].Trigger
			var want signals.Exit
			polite := syscall.SIGTERM
			switch first.Cause {
			case signals.Signal:
				want, polite = signals.Exit{Code: 128 + int(first.Signal), Signal: first.Signal}, first.Signal
			case signals.TTL:
				want = signals.Exit{Code: 124}
			case signals.ChildExited:
				want = signals.Exit{Code: r.h.code}
			}
			if log[0] != "signal "+signals.SignalName(polite) {
				t.Errorf("first trigger %v, polite signal %q", first, log[0])
			}
			if got := r.exit(t); got != want {
				t.Errorf("first trigger %v, exit %+v, want %+v", first, got, want)
			}
			r.seq.Fire(sig(syscall.SIGTERM)) // after the end: nothing more happens
			if len(r.j.entries()) != 4 {
				t.Errorf("a trigger after the sequence did something: %q", r.j.entries())
			}
		})
	}
}

// TestSequenceSecondTriggerHurries: an external trigger during the grace
// goes straight to SIGKILL; the fake clock never fires.
func TestSequenceSecondTriggerHurries(t *testing.T) {
	for _, second := range []signals.Trigger{sig(syscall.SIGTERM), sig(syscall.SIGINT), {Cause: signals.TTL}, {Cause: signals.ParentDied}, {Cause: signals.Panic}} {
		t.Run(second.String(), func(t *testing.T) {
			r := newRig(t, time.Hour)
			r.run()
			r.seq.Fire(sig(syscall.SIGHUP))
			r.waitGrace(t)
			r.seq.Fire(second)
			select {
			case <-r.h.kill:
			case <-time.After(wait):
				t.Fatalf("a second trigger (%v) did not end the grace", second)
			}
			r.waitDone(t)
			wantLog(t, r.j.entries(), "signal SIGHUP", "kill", "wipe", "exit")
			if got := r.exit(t); got.Signal != syscall.SIGHUP {
				t.Errorf("exit %+v: the first trigger, SIGHUP, decides how ningen dies", got)
			}
		})
	}
}

// TestSequenceChildExitDoesNotHurry: the child's own exit during the grace
// is expected (it is what the polite signal asks for) and must not skip
// the wait for the rest of the tree.
func TestSequenceChildExitDoesNotHurry(t *testing.T) {
	r := newRig(t, 2*time.Second)
	r.run()
	r.seq.Fire(sig(syscall.SIGTERM))
	r.waitGrace(t)
	r.seq.Fire(signals.Trigger{Cause: signals.ChildExited})
	// The clock's channel is unbuffered: this send completes only if the
	// sequence is still waiting in the grace period.
	select {
	case r.clock.fire <- time.Now():
	case <-r.h.kill:
		t.Fatal("the child's exit ended the grace period")
	case <-time.After(wait):
		t.Fatal("the sequence is neither waiting nor killing")
	}
	r.waitDone(t)
	wantLog(t, r.j.entries(), "signal SIGTERM", "kill", "wipe", "exit")
}

// TestSequenceGraceEnds: the grace ends when the clock fires, or when the
// holders are gone, whichever is first.
func TestSequenceGraceEnds(t *testing.T) {
	t.Run("clock", func(t *testing.T) {
		r := newRig(t, 2*time.Second)
		r.run()
		r.seq.Fire(signals.Trigger{Cause: signals.TTL})
		r.waitGrace(t)
		select {
		case <-r.h.kill:
			t.Fatal("Kill before the grace ended")
		case r.clock.fire <- time.Now():
		}
		r.waitDone(t)
		wantLog(t, r.j.entries(), "signal SIGTERM", "kill", "wipe", "exit")
	})
	t.Run("gone", func(t *testing.T) {
		r := newRig(t, 2*time.Second)
		r.run()
		r.seq.Fire(signals.Trigger{Cause: signals.TTL})
		r.waitGrace(t)
		close(r.h.gone)
		r.waitDone(t)
		wantLog(t, r.j.entries(), "signal SIGTERM", "kill", "wipe", "exit")
	})
}

func TestSequenceFired(t *testing.T) {
	r := newRig(t, 0)
	if r.seq.Fired() {
		t.Fatal("Fired() before any trigger")
	}
	r.seq.Fire(signals.Trigger{Cause: signals.Panic})
	if !r.seq.Fired() {
		t.Fatal("Fired() false after a trigger")
	}
	r.run()
	r.waitDone(t)
	wantLog(t, r.j.entries(), "kill", "wipe", "exit")
}

// recorder is a Forward func that reports each signal on a channel.
type recorder chan syscall.Signal

func (r recorder) forward(sig syscall.Signal) { r <- sig }

func (r recorder) next(t *testing.T) syscall.Signal {
	t.Helper()
	select {
	case s := <-r:
		return s
	case <-time.After(wait):
		t.Fatal("no signal was forwarded")
	}
	return 0
}

func raise(t *testing.T, s syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), s); err != nil {
		t.Fatal(err)
	}
}

// TestWatchForwards sends real signals to the test process: SIGUSR1,
// SIGUSR2 and SIGWINCH reach Forward, in order, and SIGURG (the runtime's
// preemption signal) never does.
func TestWatchForwards(t *testing.T) {
	r := newRig(t, 0)
	fwd := make(recorder, 16)
	done := make(chan struct{})
	defer close(done)
	signals.Watch(r.seq, signals.WatchOptions{Forward: fwd.forward, Done: done})
	for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGWINCH, syscall.SIGUSR2} {
		raise(t, s)
		if got := fwd.next(t); got != s {
			t.Errorf("sent %s, forwarded %s", signals.SignalName(s), signals.SignalName(got))
		}
	}
	// SIGURG first, then two fences: were SIGURG forwarded, it would come
	// before the second fence.
	raise(t, syscall.SIGURG)
	raise(t, syscall.SIGUSR2)
	if got := fwd.next(t); got != syscall.SIGUSR2 {
		t.Errorf("after SIGURG and SIGUSR2, forwarded %s first", signals.SignalName(got))
	}
	raise(t, syscall.SIGUSR1)
	if got := fwd.next(t); got != syscall.SIGUSR1 {
		t.Errorf("forwarded %s, want the SIGUSR1 fence", signals.SignalName(got))
	}
	if r.seq.Fired() {
		t.Error("a forwarded signal fired the sequence")
	}
}

// TestWatchCatchesRestAfterFire: when the child exits before the rest of
// the signals are caught, they are caught beside the sequence all the same,
// so that one of them (here SIGALRM, which the runtime ignores unless asked
// for) still ends the grace as a second trigger.
func TestWatchCatchesRestAfterFire(t *testing.T) {
	r := newRig(t, time.Hour)
	done := make(chan struct{})
	defer close(done)
	catchRest := signals.Watch(r.seq, signals.WatchOptions{Done: done})
	r.run()
	r.seq.Fire(signals.Trigger{Cause: signals.ChildExited})
	catchRest()
	r.waitGrace(t)
	// Until the catching reaches SIGALRM the runtime drops it: send it
	// again until it lands.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for {
		raise(t, syscall.SIGALRM)
		select {
		case <-r.h.kill:
			r.waitDone(t)
			wantLog(t, r.j.entries(), "signal SIGTERM", "kill", "wipe", "exit")
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("SIGALRM never ended the grace: the signals left to catchRest were not caught once the sequence had fired")
		}
	}
}

// TestWatchEnding: an ending signal fires the sequence, except SIGINT in an
// interactive session, which is the child's.
func TestWatchEnding(t *testing.T) {
	t.Run("SIGINT interactive", func(t *testing.T) {
		r := newRig(t, 0)
		fwd := make(recorder, 16)
		done := make(chan struct{})
		defer close(done)
		signals.Watch(r.seq, signals.WatchOptions{Forward: fwd.forward, Interactive: func() bool { return true }, Done: done})
		raise(t, syscall.SIGINT)
		if got := fwd.next(t); got != syscall.SIGINT {
			t.Errorf("interactive SIGINT: forwarded %s", signals.SignalName(got))
		}
		if r.seq.Fired() {
			t.Error("interactive SIGINT fired the sequence")
		}
	})
	for _, s := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGQUIT} {
		t.Run(signals.SignalName(s), func(t *testing.T) {
			r := newRig(t, 0)
			fwd := make(recorder, 16)
			done := make(chan struct{})
			defer close(done)
			r.run()
			signals.Watch(r.seq, signals.WatchOptions{Forward: fwd.forward, Interactive: func() bool { return false }, Done: done})
			raise(t, s)
			r.waitDone(t)
			if got := r.exit(t); got.Signal != s {
				t.Errorf("%s: exit %+v", signals.SignalName(s), got)
			}
			if len(fwd) != 0 {
				t.Errorf("%s was forwarded as well", signals.SignalName(s))
			}
		})
	}
}

func TestWatchTTL(t *testing.T) {
	r := newRig(t, 0)
	done := make(chan struct{})
	defer close(done)
	r.run()
	signals.Watch(r.seq, signals.WatchOptions{TTL: 20 * time.Millisecond, Done: done})
	r.waitDone(t)
	if got := r.exit(t); got != (signals.Exit{Code: 124}) {
		t.Errorf("TTL: exit %+v, want code 124", got)
	}
}

const parentRole = "NINGEN_TEST_PARENT_ROLE"

// TestWatchParentDied runs a watcher as the grandchild of the test, through
// a middle process that exits once the watcher is armed: the watcher must
// see its parent die and leave with 129.
func TestWatchParentDied(t *testing.T) {
	switch os.Getenv(parentRole) {
	case "middle":
		parentMiddle()
		return
	case "watcher":
		parentWatcher()
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchParentDied$", "-test.count=1")
	cmd.Env = append(os.Environ(), parentRole+"=middle", "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		w.Close()
		out, _ := io.ReadAll(r)
		t.Fatalf("middle process: %v\n%s", err, out)
	}
	w.Close()
	_ = r.SetReadDeadline(time.Now().Add(wait))
	out, err := io.ReadAll(r) // EOF once the watcher has exited too
	if err != nil {
		t.Fatalf("the watcher did not exit after its parent died: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "trigger parent-died exit 129") {
		t.Errorf("the watcher's report: %q, want trigger parent-died exit 129", out)
	}
}

// parentMiddle starts the watcher, waits until it is armed, and exits.
func parentMiddle() {
	ready, readyW, err := os.Pipe()
	if err != nil {
		os.Exit(3)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchParentDied$", "-test.count=1")
	cmd.Env = append(os.Environ(), parentRole+"=watcher")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{readyW}
	if err := cmd.Start(); err != nil {
		fmt.Println("start watcher:", err)
		os.Exit(3)
	}
	readyW.Close()
	b := make([]byte, 5)
	if _, err := io.ReadFull(ready, b); err != nil || string(b) != "armed" {
		fmt.Println("the watcher never armed:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func parentWatcher() {
	ended := make(chan string, 1)
	j := &journal{}
	h := &fakeHolders{j: j, gone: make(chan struct{}), signaled: make(chan syscall.Signal, 10), kill: make(chan struct{})}
	var trig signals.Trigger
	seq := &signals.Sequence{
		Holders: h,
		Wipe:    func() (int, error) { return 0, nil },
		Exit:    func(e signals.Exit) { ended <- fmt.Sprintf("trigger %v exit %d", trig, e.Code) },
		Audit: func(s signals.Step) {
			if s.Name == "exit" {
				trig = s.Trigger
			}
		},
	}
	go seq.Run()
	signals.Watch(seq, signals.WatchOptions{Done: make(chan struct{})})
	ready := os.NewFile(3, "ready")
	_, _ = ready.Write([]byte("armed"))
	ready.Close()
	select {
	case msg := <-ended:
		fmt.Println(msg)
		os.Exit(0)
	case <-time.After(wait):
		fmt.Println("the parent's death was never noticed")
		os.Exit(1)
	}
}

// TestSignalName: the conventional name for every signal, as its doc says;
// audit lines and exit reports carry it.
func TestSignalName(t *testing.T) {
	for s := syscall.Signal(1); s < 32; s++ {
		name := signals.SignalName(s)
		ok := strings.HasPrefix(name, "SIG") && len(name) > 3
		for _, c := range name {
			ok = ok && ('A' <= c && c <= 'Z' || '0' <= c && c <= '9')
		}
		if !ok {
			t.Errorf("SignalName(%d) = %q, want SIG and capitals, as in SIGTERM", int(s), name)
		}
	}
	for name, s := range map[string]syscall.Signal{"SIG34": 34, "SIG40": 40, "SIG64": 64, "SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGHUP": syscall.SIGHUP, "SIGQUIT": syscall.SIGQUIT, "SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1, "SIGWINCH": syscall.SIGWINCH} {
		if got := signals.SignalName(s); got != name {
			t.Errorf("SignalName(%d) = %q, want %q", int(s), got, name)
		}
	}
}
