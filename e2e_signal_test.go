package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startAgent runs child.py agent under ningen with stdin piped and waits
// for its ready line; it returns the session and the child's pid.
func startAgent(t *testing.T, marker string, ningenArgs []string, agent ...string) (*session, int) {
	t.Helper()
	args := append(append([]string{"run"}, ningenArgs...), "--")
	args = append(args, agentArgs(append(agent, "--marker", marker)...)...)
	s := start(t, opts{stdin: true, marker: marker}, args...)
	ready := s.out.await(t, "the child's ready line", contains("role=child"))
	return s, readyPID(t, ready)
}

// TestEndingSignals: SIGTERM, SIGHUP, SIGQUIT and (without a terminal)
// SIGINT to ningen kill the whole tree, a double-forked grandchild
// included, and ningen dies of that same signal.
func TestEndingSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGINT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			s, child := startAgent(t, marker, []string{"--grace", "5s"})
			s.send("doublefork " + marker)
			gc := readyPID(t, s.out.await(t, "the grandchild", contains("role=sleeper")))
			s.signal(sig)
			wantSignaled(t, s, s.wait(), sig)
			awaitDead(t, child, marker, "the child")
			awaitDead(t, gc, marker, "the setsid grandchild")
			awaitNoneMarked(t, marker)
			kill, _, exit := sequence(t, s.err.Lines())
			if want := "signal:" + unix.SignalName(sig); attr(kill, "trigger") != want {
				t.Errorf("kill line %q, want trigger=%s", kill, want)
			}
			if attr(exit, "signal") != unix.SignalName(sig) || attr(exit, "code") != strconv.Itoa(128+int(sig)) {
				t.Errorf("exit line %q, want code=%d signal=%s", exit, 128+int(sig), unix.SignalName(sig))
			}
		})
	}
}

// TestFatalSignals: a signal whose default action would end a process
// ends the session the same way, whether the Go runtime would have crashed
// on it (SIGSEGV sent with kill, SIGSTKFLT) or ignored it (SIGALRM, a
// real-time signal): the tree is killed and ningen dies of that signal.
func TestFatalSignals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGSEGV, "SIGSEGV"}, {unix.SIGSTKFLT, "SIGSTKFLT"}, {syscall.SIGALRM, "SIGALRM"}, {40, "SIG40"}} {
		sig := c.sig
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			s, child := startAgent(t, marker, []string{"--grace", "5s"})
			s.signal(sig)
			wantSignaled(t, s, s.wait(), sig)
			awaitDead(t, child, marker, "the child")
			awaitNoneMarked(t, marker)
			kill, _, exit := sequence(t, s.err.Lines())
			if want := "signal:" + c.name; attr(kill, "trigger") != want {
				t.Errorf("kill line %q, want trigger=%s", kill, want)
			}
			if attr(exit, "code") != strconv.Itoa(128+int(sig)) || attr(exit, "signal") != c.name {
				t.Errorf("exit line %q, want code=%d signal=%s", exit, 128+int(sig), c.name)
			}
		})
	}
}

// TestInterruptReachesGroupOnce: kill -INT on a ningen without a terminal
// reaches each process of the child's group exactly once.
func TestInterruptReachesGroupOnce(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	s, child := startAgent(t, marker, []string{"--grace", "300ms"}, "--trap", "INT")
	s.send("spawn")
	sub := readyPID(t, s.out.await(t, "the sub-process", contains("role=sub")))
	s.signal(syscall.SIGINT)
	wantSignaled(t, s, s.wait(), syscall.SIGINT)
	s.out.awaitEOF(t)
	lines := s.out.Lines()
	for _, pid := range []int{child, sub} {
		if n := count(lines, "sig SIGINT pid="+strconv.Itoa(pid)); n != 1 {
			t.Errorf("pid %d got SIGINT %d times, want once\n%s", pid, n, s.out.dump())
		}
	}
	awaitNoneMarked(t, marker)
}

// TestGraceThenKill: a child that traps SIGTERM gets exactly one TERM and,
// after --grace, SIGKILL; for each trigger that sends TERM first.
func TestGraceThenKill(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		args    []string
		trigger func(*session)
		end     func(*testing.T, *session, exitStatus)
	}{
		{"sigterm", nil, func(s *session) { s.signal(syscall.SIGTERM) },
			func(t *testing.T, s *session, st exitStatus) { wantSignaled(t, s, st, syscall.SIGTERM) }},
		// The TTL must outlast the child's start (python, on a loaded
		// machine), or the TERM lands before the trap is set.
		{"ttl", []string{"--ttl", "4s"}, func(*session) {},
			func(t *testing.T, s *session, st exitStatus) { wantExit(t, s, st, 124) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			grace := 700 * time.Millisecond
			s, child := startAgent(t, marker, append([]string{"--grace", grace.String()}, c.args...), "--trap", "TERM")
			c.trigger(s)
			c.end(t, s, s.wait())
			awaitDead(t, child, marker, "the TERM-trapping child")
			s.out.awaitEOF(t)
			if n := count(s.out.Lines(), "sig SIGTERM"); n != 1 {
				t.Errorf("the child got SIGTERM %d times, want exactly once\n%s", n, s.out.dump())
			}
			kill, _, _ := sequence(t, s.err.Lines())
			if n := intField(t, kill, "killed"); n < 1 {
				t.Errorf("kill line %q: nobody needed SIGKILL", kill)
			}
			took, err := time.ParseDuration(attr(kill, "took"))
			if err != nil || took < grace {
				t.Errorf("kill step took %q, want at least the grace %s", attr(kill, "took"), grace)
			}
		})
	}
}

// TestSecondTriggerSkipsGrace: a second trigger during the grace period
// goes straight to SIGKILL.
func TestSecondTriggerSkipsGrace(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	s, child := startAgent(t, marker, []string{"--grace", "10m"}, "--trap", "TERM,HUP")
	s.signal(syscall.SIGTERM)
	s.out.await(t, "the first TERM", contains("sig SIGTERM"))
	s.signal(syscall.SIGHUP)
	wantSignaled(t, s, s.wait(), syscall.SIGTERM)
	awaitDead(t, child, marker, "the child")
	s.out.awaitEOF(t)
	if n := count(s.out.Lines(), "sig SIG"); n != 1 {
		t.Errorf("the child got %d signals before SIGKILL, want only the first TERM\n%s", n, s.out.dump())
	}
}

// TestForwardedAtOnce: a child that signals ningen as its very first act
// (as a child telling its supervisor it is up might) has the signal
// forwarded, not dropped: forwarding is armed before the child runs.
func TestForwardedAtOnce(t *testing.T) {
	t.Parallel()
	for _, sig := range []string{"USR1", "WINCH"} {
		t.Run(sig, func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			s := start(t, opts{marker: marker}, "run", "--", "sh", "-c",
				"trap 'echo got "+sig+"; exit 0' "+sig+"; kill -"+sig+" $PPID; sleep 1000 & wait; : "+marker)
			wantExit(t, s, s.wait(), 0)
			s.out.awaitEOF(t)
			if n := count(s.out.Lines(), "got "+sig); n != 1 {
				t.Errorf("the child saw its SIG%s %d times, want once\n%s", sig, n, s.out.dump())
			}
			awaitNoneMarked(t, marker)
		})
	}
}

// TestForwardedSignals: SIGUSR1, SIGUSR2 and SIGWINCH reach the child and
// do not end the session; the runtime's SIGURG is never forwarded.
func TestForwardedSignals(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	s, _ := startAgent(t, marker, nil, "--trap", "USR1,USR2,WINCH,URG")
	s.signal(syscall.SIGURG)
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH} {
		s.signal(sig)
		s.out.await(t, unix.SignalName(sig)+" at the child", contains("sig "+unix.SignalName(sig)))
	}
	s.send("exit 3")
	wantExit(t, s, s.wait(), 3)
	s.out.awaitEOF(t)
	lines := s.out.Lines()
	for _, name := range []string{"SIGUSR1", "SIGUSR2", "SIGWINCH"} {
		if n := count(lines, "sig "+name); n != 1 {
			t.Errorf("the child got %s %d times, want once", name, n)
		}
	}
	if n := count(lines, "sig SIGURG"); n != 0 {
		t.Errorf("SIGURG was forwarded to the child %d times", n)
	}
	kill, _, _ := sequence(t, s.err.Lines())
	if attr(kill, "trigger") != "child-exit" {
		t.Errorf("kill line %q, want trigger=child-exit", kill)
	}
}

// TestDoubleForkGrandchildDies: a grandchild that double-forked with
// setsid is dead once the child's exit ends the session.
func TestDoubleForkGrandchildDies(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	s, child := startAgent(t, marker, []string{"--grace", "2s"})
	s.send("doublefork " + marker)
	gcLine := s.out.await(t, "the grandchild", contains("role=sleeper"))
	gc := readyPID(t, gcLine)
	if intField(t, gcLine, "sid") == intField(t, s.out.await(t, "", contains("role=child")), "sid") {
		t.Fatalf("the grandchild did not get a session of its own: %q", gcLine)
	}
	s.send("exit 0")
	wantExit(t, s, s.wait(), 0)
	awaitDead(t, child, marker, "the child")
	awaitDead(t, gc, marker, "the double-forked grandchild")
	s.out.awaitEOF(t)
	kill, _, _ := sequence(t, s.err.Lines())
	if n := intField(t, kill, "signaled"); n < 1 {
		t.Errorf("kill line %q: the grandchild was not signalled", kill)
	}
}

// TestParentDeathEndsSession: when ningen's parent dies the session ends:
// the child dies and ningen exits. A subreaper (reaper.py) adopts ningen
// so that the test can see how it ended.
func TestParentDeathEndsSession(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	script := `"$0" run --grace 1s -- "$1" "$2" agent --no-stdin --marker "$3" & echo "ningen=$!"; wait`
	rs := startCmd(t, opts{marker: marker}, python, reaperPy(), "/bin/sh", "-c", script, ningenBin, python, childPy(), marker)
	sh := intField(t, rs.out.await(t, "the shell", hasPrefix("started")), "pid")
	ng := intField(t, rs.out.await(t, "ningen's pid", hasPrefix("ningen=")), "ningen")
	child := readyPID(t, rs.out.await(t, "the child", contains("role=child")))
	if err := syscall.Kill(sh, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reaped := rs.out.await(t, "ningen reaped", hasPrefix("reaped pid="+strconv.Itoa(ng)+" "))
	awaitDead(t, child, marker, "the child")
	if attr(reaped, "code") == "" {
		t.Errorf("ningen ended %q, want an exit code after its kill sequence", reaped)
	}
	kill, _, _ := sequence(t, rs.err.Lines())
	if attr(kill, "trigger") != "parent-died" {
		t.Errorf("kill line %q, want trigger=parent-died", kill)
	}
	rs.wait()
}

// TestPdeathsig: ningen killed with SIGKILL cannot run its sequence, but
// its direct child still dies (PDEATHSIG).
func TestPdeathsig(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	s, child := startAgent(t, marker, nil)
	s.signal(syscall.SIGKILL)
	wantSignaled(t, s, s.wait(), syscall.SIGKILL)
	awaitDead(t, child, marker, "the child of a SIGKILLed ningen")
}

// TestManyTriggersOneSequence: a TTL, the child's exit and a hundred
// signals arriving together give exactly one kill, wipe, exit, in order,
// and ningen ends the way its exit line says.
func TestManyTriggersOneSequence(t *testing.T) {
	t.Parallel()
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	won := map[string]int{}
	var mu sync.Mutex
	t.Cleanup(func() { t.Logf("first triggers: %v", won) })
	for i := range rounds {
		t.Run("round-"+strconv.Itoa(i), func(t *testing.T) {
			s := start(t, opts{}, "run", "--ttl", "50ms", "--grace", "100ms", "--", "sleep", "0.05")
			s.err.await(t, "the start line", contains("event=start"))
			release := make(chan struct{})
			var wg sync.WaitGroup
			for j := range 100 {
				sig := syscall.SIGTERM
				if j%2 == 1 {
					sig = syscall.SIGHUP
				}
				wg.Go(func() {
					<-release
					s.signal(sig)
				})
			}
			// Not synchronisation: the burst is aimed at a different
			// moment each round, near the TTL and the child's exit, so
			// that every kind of trigger gets to win some rounds. The
			// assertions hold whatever wins.
			time.Sleep(time.Duration(i%4) * 20 * time.Millisecond)
			close(release)
			wg.Wait()
			st := s.wait()
			s.err.awaitEOF(t)
			_, _, exit := sequence(t, s.err.Lines())
			trig := attr(exit, "trigger")
			mu.Lock()
			won[trig]++
			mu.Unlock()
			switch {
			case strings.HasPrefix(trig, "signal:"):
				if st.signal == 0 || unix.SignalName(st.signal) != strings.TrimPrefix(trig, "signal:") {
					t.Errorf("exit line %q but ningen %v", exit, st)
				}
			case trig == "ttl":
				wantExit(t, s, st, 124)
			case trig == "child-exit":
				wantExit(t, s, st, 0)
			default:
				t.Errorf("unexpected trigger in %q", exit)
			}
		})
	}
}

// TestConcurrentSessions: sessions that start and end beside a running one
// leave it alone, whether they run the same ningen binary or another copy
// of it (an upgrade, a second install, a renamed build). It runs alone,
// before the parallel tests: when it fails it kills other sessions.
func TestConcurrentSessions(t *testing.T) {
	copyBin := filepath.Join(t.TempDir(), "ningen-other-copy")
	b, err := os.ReadFile(ningenBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, bin string }{
		{"same-binary", ningenBin},
		{"other-copy", copyBin},
	} {
		t.Run(c.name, func(t *testing.T) {
			marker := newMarker(t)
			s, child := startAgent(t, marker, nil)
			for range 3 {
				other := startCmd(t, opts{}, c.bin, "run", "--", "true")
				wantExit(t, other, other.wait(), 0)
			}
			if !alive(child, marker) {
				st, _, _ := procStat(child)
				t.Errorf("the running session's child (pid %d, state %c) died when other sessions started", child, st)
			}
			if t.Failed() {
				return
			}
			s.send("exit 0")
			st := s.wait()
			s.err.awaitEOF(t)
			wantExit(t, s, st, 0)
			kill, _, _ := sequence(t, s.err.Lines())
			if e := attr(kill, "error"); e != "" {
				t.Errorf("the running session's kill step failed: %s", kill)
			}
		})
	}
}
