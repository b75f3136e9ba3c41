package main

// End-to-end tests of issue 4: every holder dies, in both tracking modes,
// however it tries to get away: setsid and double forks, forking while the
// sweep runs, being stopped or traced, ningen's own SIGKILL, a cgroup left
// by a crashed run, a TTL that races the child's start, and never a signal
// to ningen's own process group.
//
// cgroup-mode tests run ningen inside a group of their own (made under the
// test's cgroup v2 group, removed at the end), so that what they check and
// what they clean up is theirs alone; they skip where no cgroup is
// writable (not root). The trees are testdata/e2e/tree.py.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ningen-shikkaku/ningen/launcher"
	"golang.org/x/sys/unix"
)

func treePy() string { return filepath.Join(fixtures, "tree.py") }

// --- tracking modes ----------------------------------------------------------

// trackMode is how one subtest runs ningen: the --track flag and, in cgroup
// mode, a prefix that puts ningen in the test's own group first.
type trackMode struct {
	name   string
	flags  []string
	prefix []string
	group  string // the test's group, parent of ningen's; "" in subreaper mode
}

// eachMode runs f as one parallel subtest per tracking mode.
func eachMode(t *testing.T, f func(t *testing.T, m trackMode)) {
	t.Helper()
	for _, name := range []string{"subreaper", "cgroup"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newTrackMode(t, name))
		})
	}
}

func newTrackMode(t *testing.T, name string) trackMode {
	t.Helper()
	m := trackMode{name: name, flags: []string{"--track", name}}
	if name == "cgroup" {
		m.group = testGroup(t)
		m.prefix = enterGroup(m.group)
	}
	return m
}

// enterGroup is a prefix that moves itself into group, then execs the rest.
func enterGroup(group string) []string {
	return []string{"/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, group}
}

// args is `run FLAGS... --track MODE -- COMMAND...`.
func (m trackMode) args(flags []string, command ...string) []string {
	a := append(append([]string{"run"}, flags...), m.flags...)
	return append(append(a, "--"), command...)
}

// checkStart fails unless the start line names the mode in force.
func (m trackMode) checkStart(t *testing.T, stderr []string) {
	t.Helper()
	for _, a := range audits(stderr) {
		if a.event == "start" {
			if got := attr(a.line, "tracking"); got != m.name {
				t.Fatalf("start line %q: tracking=%s, want %s", a.line, got, m.name)
			}
			return
		}
	}
	t.Fatalf("no start line:\n%s", strings.Join(stderr, "\n"))
}

// checkAdopted checks what reaper.py (stdout lines) reaped besides ningen
// (pid ng): in cgroup mode the watchdog, adopted when it started, and
// retired by ningen once it had removed the group (SIGKILL; code 0 where
// it ended on its own, seeing the group gone); nothing else. A start that
// fails at once retires it before its go-between's fork has exec'd it,
// still named sh: one SIGKILLed sh counts as the watchdog, and any other
// process as well would make two.
func (m trackMode) checkAdopted(t *testing.T, lines []string, ng int) {
	t.Helper()
	comm := filepath.Base(ningenBin)
	comm = comm[:min(len(comm), 15)] // the kernel's TASK_COMM_LEN
	watchdogs := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "reaped pid=") || strings.HasPrefix(l, "reaped pid="+strconv.Itoa(ng)+" ") {
			continue
		}
		killed := attr(l, "signal") == "9"
		if m.group != "" && (attr(l, "comm") == comm && (attr(l, "code") == "0" || killed) || attr(l, "comm") == "sh" && killed) {
			watchdogs++
			continue
		}
		t.Errorf("ningen left a process behind, reparented to its subreaper: %q", l)
	}
	if want := map[bool]int{true: 1}[m.group != ""]; watchdogs != want {
		t.Errorf("reaper.py reaped %d watchdogs (comm %s, code 0 or SIGKILL, or a SIGKILLed sh), want %d:\n%s", watchdogs, comm, want, strings.Join(lines, "\n"))
	}
}

// checkGroupsGone fails if a group ningen made is still there: a session
// removes its group before it exits.
func (m trackMode) checkGroupsGone(t *testing.T) {
	t.Helper()
	if m.group == "" {
		return
	}
	if left := sessionGroups(m.group); len(left) > 0 {
		t.Errorf("groups left under %s after the session: %v", m.group, left)
	}
}

// --- cgroups -------------------------------------------------------------------

// testGroup makes a cgroup v2 group for one test under the test's own
// group, and removes it, with anything left in it, when the test ends.
func testGroup(t *testing.T) string {
	t.Helper()
	parent, err := launcher.Cgroup2Dir()
	if err != nil {
		t.Skip("needs root: no cgroup v2 group: " + err.Error())
	}
	if err := unix.Access(parent, unix.W_OK); err != nil {
		t.Skipf("needs root: cgroup v2 group %s is not writable", parent)
	}
	staleTestGroups.Do(func() { removeStaleTestGroups(t, parent) })
	self := os.Getpid()
	g := filepath.Join(parent, fmt.Sprintf("%s%d.%s-%s", testGroupPrefix, self, startTime(t, self), newMarker(t)))
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Skipf("needs root: cannot make a cgroup under %s: %v", parent, err)
	}
	t.Cleanup(func() { removeGroupTree(t, g) })
	if _, err := os.Stat(filepath.Join(g, "cgroup.kill")); err != nil {
		t.Skip("needs Linux 5.14+: no cgroup.kill")
	}
	return g
}

// testGroupPrefix starts the name of every test group: the test process's
// pid and start time follow, so that a group an interrupted run left (a
// panic skips cleanups) can be told from one in use.
const testGroupPrefix = "e2e-tree-"

var staleTestGroups sync.Once

// removeStaleTestGroups removes, with what is in them, the test groups
// under parent whose test process is gone.
func removeStaleTestGroups(t *testing.T, parent string) {
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), testGroupPrefix)
		owner, _, _ := strings.Cut(rest, "-")
		pidStr, start, _ := strings.Cut(owner, ".")
		pid, err := strconv.Atoi(pidStr)
		if !ok || !e.IsDir() || err != nil || start == "" {
			continue
		}
		if b, err := os.ReadFile("/proc/" + pidStr + "/stat"); err == nil && pid > 0 {
			f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
			if len(f) > 19 && string(f[19]) == start {
				continue // its test runs
			}
		}
		removeGroupTree(t, filepath.Join(parent, e.Name()))
	}
}

// removeGroupTree kills everything in g and below and removes the groups.
func removeGroupTree(t testing.TB, g string) {
	if err := os.WriteFile(filepath.Join(g, "cgroup.kill"), []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup: kill %s: %v", g, err)
	}
	deadline := time.Now().Add(waitLong)
	for groupPopulated(g) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var dirs []string
	_ = filepath.WalkDir(g, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for unix.Rmdir(dirs[i]) == unix.EBUSY && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func groupPopulated(g string) bool {
	b, err := os.ReadFile(filepath.Join(g, "cgroup.events"))
	return err == nil && bytes.Contains(b, []byte("populated 1"))
}

// sessionGroups lists the groups ningen made under parent.
func sessionGroups(parent string) []string {
	ents, _ := os.ReadDir(parent)
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "ningen-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// startIn starts argv inside group g, as its own child.
func startIn(t *testing.T, g string, argv ...string) *exec.Cmd {
	t.Helper()
	fd, err := unix.Open(g, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	return startReaped(t, cmd)
}

// startReaped starts cmd and reaps it in the background; the test's
// cleanup kills it if it still runs.
func startReaped(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}

// startTime is field 22 of /proc/PID/stat.
func startTime(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	return string(f[19])
}

// awaitTickAfter waits until the boot clock, in the ticks of the start
// times in /proc/PID/stat (USER_HZ, 100 a second), is past tick: no process
// started from then on has that start time.
func awaitTickAfter(t *testing.T, tick int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		b, err := os.ReadFile("/proc/uptime")
		if err != nil {
			t.Fatal(err)
		}
		up, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		if int(up*100) > tick+1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clock is not past tick %d after %s", tick, waitLong)
		}
		time.Sleep(time.Millisecond) // a clock to watch, not an event
	}
}

// --- /proc -------------------------------------------------------------------------

// pgidOf is field 5 of /proc/PID/stat.
func pgidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	n, _ := strconv.Atoi(string(f[2]))
	return n
}

// tracerOf is TracerPid from /proc/PID/status.
func tracerOf(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// survivors describes the live processes holding marker, except the
// given pids (a helper whose argv names the marker too).
func survivors(marker string, except ...int) []string {
	var out []string
	for _, pid := range marked(marker) {
		if !containsInt(except, pid) {
			st, ppid, _ := procStat(pid)
			out = append(out, fmt.Sprintf("pid %d (state %c, parent %d)", pid, st, ppid))
		}
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func parsePids(t *testing.T, list string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Split(list, ",") {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad pid list %q", list)
		}
		pids = append(pids, pid)
	}
	return pids
}

// signalPid signals a process that is not the test's child through a
// pidfd, so that a pid reused meanwhile is never hit.
func signalPid(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		t.Fatalf("signal %d: %v", pid, err)
	}
}

// --- the tests ---------------------------------------------------------------------

// TestDetachedGrandchildrenDie: a child that leaves ningen's session and
// double-forks 50 grandchildren, each in a session of its own and deaf to
// SIGTERM, leaves none alive, whether the session ends by a signal to
// ningen or by the child's exit.
func TestDetachedGrandchildrenDie(t *testing.T) {
	t.Parallel()
	const n = 50
	eachMode(t, func(t *testing.T, m trackMode) {
		for _, then := range []string{"signal", "exit"} {
			t.Run(then, func(t *testing.T) {
				marker := newMarker(t)
				s := start(t, opts{marker: marker, prefix: m.prefix},
					m.args([]string{"--grace", "300ms"}, python, treePy(), "detach", marker, strconv.Itoa(n), then)...)
				ready := s.out.await(t, "50 grandchildren", hasPrefix("ready n="))
				gcs := parsePids(t, attr(ready, "pids"))
				if len(gcs) != n {
					t.Fatalf("ready line %q: want %d pids", ready, n)
				}
				if sess := intField(t, ready, "sessions"); sess != n {
					t.Errorf("ready line %q: the %d grandchildren are in %d sessions of their own, want %d", ready, n, sess, n)
				}
				var st exitStatus
				if then == "signal" {
					s.signal(syscall.SIGTERM)
					st = s.wait()
					wantSignaled(t, s, st, syscall.SIGTERM)
				} else {
					st = s.wait()
					wantExit(t, s, st, 0)
				}
				// Right at ningen's exit: the sequence promises none left,
				// so there is nothing to wait for.
				if left := survivors(marker); len(left) > 0 {
					t.Errorf("alive when ningen exited: %v", left)
				}
				m.checkGroupsGone(t)
				s.err.awaitEOF(t)
				m.checkStart(t, s.err.Lines())
				kill, _, _ := sequence(t, s.err.Lines())
				if k := intField(t, kill, "killed"); k < n {
					t.Errorf("kill line %q: killed=%d, want at least the %d grandchildren (they ignore SIGTERM)", kill, k, n)
				}
				if e := attr(kill, "error"); e != "" {
					t.Errorf("kill step failed: %s", kill)
				}
			})
		}
	})
}

// TestForkingTreeDies: a tree that keeps forking while the sweep runs (at
// most 2,000 processes, every second one setsid'd, all deaf to SIGTERM;
// --grace 0, so the SIGKILL sweep starts while it grows) is all dead when
// ningen exits, none reparented anywhere, and the sequence runs once.
func TestForkingTreeDies(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, m trackMode) {
		marker := newMarker(t)
		s := start(t, opts{marker: marker, prefix: m.prefix},
			m.args([]string{"--grace", "0"}, python, treePy(), "forker", marker, "2000")...)
		s.out.await(t, "the tree to grow", hasPrefix("grown"))
		s.signal(syscall.SIGTERM)
		st := s.wait()
		if left := survivors(marker); len(left) > 0 {
			t.Errorf("%d processes alive when ningen exited (parent 1 or another subreaper: they escaped): %v", len(left), left)
		}
		wantSignaled(t, s, st, syscall.SIGTERM)
		m.checkGroupsGone(t)
		s.err.awaitEOF(t)
		m.checkStart(t, s.err.Lines())
		kill, _, _ := sequence(t, s.err.Lines())
		if e := attr(kill, "error"); e != "" {
			t.Errorf("kill step failed: %s", kill)
		}
		t.Logf("%s: %s", m.name, kill)
	})
}

// TestForkExitChainsDie: chains of holders that each fork the next and
// exit at once (testdata/e2e/chain.c), so that a look at the tree keeps
// finding links already gone while their successors have moved to ningen,
// the subreaper. A breaker found one escaping about one run in seven, when
// a look that found only links reaped during it was taken to prove the
// tree empty. The session ends by the child's exit while 4 chains run,
// --grace 0, 40 times in each mode: none survive.
func TestForkExitChainsDie(t *testing.T) {
	t.Parallel()
	chain := buildC(t, "chain")
	eachMode(t, func(t *testing.T, m trackMode) {
		for i := range 40 {
			if !chainsDie(t, m, i, chain, "", "4", "20") {
				return
			}
		}
	})
}

// chainsDie runs `chain MARKER ARGS...` under ningen with --grace 0, for
// run i, and checks that the session ends cleanly with every link dead.
// With storm "" the session ends as the chains start, by the child's exit;
// otherwise the chains storm for that many seconds, the child says ready
// and stays, and SIGTERM to ningen ends the session: under a hundred
// chains the child's own exit could take 15s, its unmapping of the binary
// queued behind their forks (exit_mmap, found in /proc/PID/stack).
func chainsDie(t *testing.T, m trackMode, i int, chain string, storm string, args ...string) bool {
	t.Helper()
	marker := newMarker(t)
	var env []string
	if storm != "" {
		env = []string{"CHAIN_STORM=" + storm, "CHAIN_HOLD=1"}
	}
	s := start(t, opts{marker: marker, prefix: m.prefix, env: env},
		m.args([]string{"--grace", "0"}, append([]string{chain, marker}, args...)...)...)
	if storm != "" {
		s.out.await(t, "the chains' storm", hasPrefix("ready"))
		s.signal(syscall.SIGTERM)
	}
	st := s.wait()
	if left := survivors(marker); len(left) > 0 {
		t.Fatalf("run %d: alive when ningen exited: %v", i, left)
	}
	// A link that escaped stops once it finds ningen gone; one the look
	// above missed in mid-fork is found here.
	awaitNoneMarked(t, marker)
	if storm != "" {
		wantSignaled(t, s, st, syscall.SIGTERM) // re-raised, as ningen does
	} else {
		wantExit(t, s, st, 0)
	}
	m.checkGroupsGone(t)
	s.err.awaitEOF(t)
	kill, _, _ := sequence(t, s.err.Lines())
	if e := attr(kill, "error"); e != "" {
		t.Errorf("run %d: kill step failed: %s", i, kill)
	}
	return !t.Failed()
}

// TestThreadedChainsDie: 100 chains whose links fork the next from a
// second thread and exit, the breaker's tree that kept the old sweep of
// /proc busy for its whole 10s and left holders alive 3 runs in 3; the
// old reaper, taking orphans first, did not even see the child exit in
// cgroup mode. They stay in the child's process group, which the kill step
// signals whole first, through the child's pidfd (the sweep alone left
// some alive 3 runs in 5). The chains storm for half a second, enough to
// pile up thousands of zombies for ningen to reap while it gets a
// hundredth of the CPU; then SIGTERM ends the session, every link dies,
// and the kill step reports no error. The chains would run for 30s on
// their own, so a kill step that only kept up with them would end in its
// own limit, with an error. In cgroup mode this tree once
// kept the kill step from its write to cgroup.kill for seconds: it reaped
// first, and had to wait for the reaper's lock. (The chains used to start
// one by one inside their own storm, which once took more than the test's
// 20s on a loaded machine: now they wait at a gate until all are made.)
//
// A storm like this one starves whatever runs beside it and can use up
// the pids, so it is off unless NINGEN_STRESS=1, which scripts/test.sh
// sets in a step of its own, with nothing else running.
func TestThreadedChainsDie(t *testing.T) {
	if os.Getenv("NINGEN_STRESS") == "" {
		t.Skip("a fork storm of 100 threaded chains, which starves tests beside it: scripts/test.sh runs it alone with NINGEN_STRESS=1")
	}
	if !haveGroupSignal(t) {
		t.Skip("needs Linux 6.9+: pidfd_send_signal has no PIDFD_SIGNAL_PROCESS_GROUP")
	}
	chain := buildC(t, "chain")
	for _, name := range []string{"subreaper", "cgroup"} {
		t.Run(name, func(t *testing.T) {
			m := newTrackMode(t, name)
			for i := range 3 {
				if !chainsDie(t, m, i, chain, "0.5", "100", "30", "thread") {
					return
				}
			}
		})
	}
}

// haveGroupSignal reports whether pidfd_send_signal takes
// PIDFD_SIGNAL_PROCESS_GROUP here: signal 0 with it, to a process of the
// test's own, fails with EINVAL on kernels that lack the flag.
func haveGroupSignal(t *testing.T) bool {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, 0, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP) == nil
}

// buildC compiles testdata/e2e/NAME.c with the C compiler cgo uses, which
// building ningen needs anyway.
func buildC(t *testing.T, name string) string {
	t.Helper()
	cc := "cc"
	if out, err := exec.Command("go", "env", "CC").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		cc = strings.Fields(string(out))[0]
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("needs a C compiler for testdata/e2e/%s.c: %v", name, err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(cc, "-O2", "-Wall", "-pthread", "-o", bin, filepath.Join(fixtures, name+".c")).CombinedOutput(); err != nil {
		t.Fatalf("%s %s.c: %v\n%s", cc, name, err, out)
	}
	return bin
}

// TestStoppedAndTracedHoldersDie: a holder stopped with SIGSTOP, one traced
// by another holder that swallows every signal it gets, and one left in
// its ptrace stop all die, and ningen leaves no zombie: run under a
// subreaper (reaper.py), anything ningen left behind, dead or alive, would
// be reparented to it and show up as reaped.
func TestStoppedAndTracedHoldersDie(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, m trackMode) {
		marker := newMarker(t)
		argv := append([]string{python, reaperPy(), ningenBin},
			m.args([]string{"--grace", "300ms"}, python, treePy(), "ptrace", marker)...)
		rs := startCmd(t, opts{marker: marker, prefix: m.prefix}, argv...)
		ng := intField(t, rs.out.await(t, "ningen's pid", hasPrefix("started")), "pid")
		ready := rs.out.await(t, "the holders", hasPrefix("ready stopped="))
		stopped, traced, tracer, held := intField(t, ready, "stopped"), intField(t, ready, "traced"),
			intField(t, ready, "tracer"), intField(t, ready, "held")
		awaitState(t, stopped, "the stopped holder", func(b byte) bool { return b == 'T' })
		awaitState(t, held, "the holder held in its ptrace stop", func(b byte) bool { return b == 't' })
		for _, pid := range []int{traced, held} {
			if tp := tracerOf(pid); tp != tracer {
				t.Fatalf("pid %d: TracerPid %d, want the tracer %d", pid, tp, tracer)
			}
		}
		signalPid(t, ng, syscall.SIGTERM)
		reaped := rs.out.await(t, "ningen's end", hasPrefix("reaped pid="+strconv.Itoa(ng)+" "))
		if attr(reaped, "signal") != strconv.Itoa(int(syscall.SIGTERM)) {
			t.Errorf("ningen ended %q, want signal=%d", reaped, syscall.SIGTERM)
		}
		if left := survivors(marker, rs.pid); len(left) > 0 {
			t.Errorf("alive when ningen exited: %v", left)
			killMarked(marker) // lets reaper.py finish
		}
		m.checkGroupsGone(t)
		rs.wait()
		rs.out.awaitEOF(t)
		m.checkAdopted(t, rs.out.Lines(), ng)
		m.checkStart(t, rs.err.Lines())
		kill, _, _ := sequence(t, rs.err.Lines())
		if e := attr(kill, "error"); e != "" {
			t.Errorf("kill step failed: %s", kill)
		}
	})
}

// TestSIGKILLedNingen: ningen killed with SIGKILL runs no sequence, but its
// direct child is dead within a second (PDEATHSIG). In cgroup mode the
// watchdog kills the rest of the tree, grandchildren in their own session
// or in the child's group alike, and removes the group. In subreaper mode
// they outlive ningen: README.md ("Hard deaths") states that limit.
func TestSIGKILLedNingen(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, m trackMode) {
		marker := newMarker(t)
		s := start(t, opts{stdin: true, marker: marker, prefix: m.prefix},
			m.args(nil, agentArgs("--marker", marker)...)...)
		child := readyPID(t, s.out.await(t, "the child", contains("role=child")))
		s.send("spawn")
		sub := readyPID(t, s.out.await(t, "a grandchild in the child's group", contains("role=sub")))
		s.send("doublefork " + marker)
		detached := readyPID(t, s.out.await(t, "a grandchild in its own session", contains("role=sleeper")))
		s.err.await(t, "the start line", contains("event=start"))
		m.checkStart(t, s.err.Lines())

		s.signal(syscall.SIGKILL)
		wantSignaled(t, s, s.wait(), syscall.SIGKILL)
		deadline := time.Now().Add(time.Second)
		for alive(child, marker) {
			if time.Now().After(deadline) {
				t.Fatalf("the direct child (pid %d) is alive a second after ningen's SIGKILL", child)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if m.group == "" {
			for _, gc := range []int{sub, detached} {
				if !alive(gc, marker) {
					t.Errorf("grandchild %d died with a SIGKILLed ningen in subreaper mode, where README.md (Hard deaths) says it outlives ningen: update both", gc)
				}
			}
			return // the session's cleanup kills them
		}
		awaitDead(t, sub, marker, "the grandchild in the child's group")
		awaitDead(t, detached, marker, "the setsid grandchild")
		deadline = time.Now().Add(waitLong)
		for len(sessionGroups(m.group)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the watchdog left the session's group: %v", sessionGroups(m.group))
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// TestFailedStartLeavesNothing: the cgroup and its watchdog are made while
// the secrets load; a start that then fails (a source that fails, a
// command not found) removes the group itself rather than leave it to the
// watchdog, which then finds nothing to do. Run under a subreaper
// (reaper.py), which adopts the watchdog, whatever else ningen left would
// be reparented to it too and show up as reaped.
func TestFailedStartLeavesNothing(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, m trackMode) {
		for _, tc := range []struct {
			name    string
			flags   []string
			command string
			code    int
		}{
			{"source fails", []string{"-s", "A=exec:exit 3"}, "true", 125},
			{"command not found", nil, "no-such-command-" + newMarker(t), 127},
		} {
			t.Run(tc.name, func(t *testing.T) {
				argv := append([]string{python, reaperPy(), ningenBin}, m.args(tc.flags, tc.command)...)
				rs := startCmd(t, opts{prefix: m.prefix}, argv...)
				ng := intField(t, rs.out.await(t, "ningen's pid", hasPrefix("started")), "pid")
				rs.wait()
				rs.out.awaitEOF(t)
				want := fmt.Sprintf("reaped pid=%d code=%d ", ng, tc.code)
				if lines := rs.out.Lines(); !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
					t.Errorf("reaper.py saw %q, want ningen's end %q", lines, want)
				}
				m.checkAdopted(t, rs.out.Lines(), ng)
				m.checkGroupsGone(t)
			})
		}
	})
}

// TestStaleGroupCleanedOnStart: a group a crashed ningen left (named like
// ningen's, its maker gone) is killed and removed when the next session
// starts, and so is one whose maker's pid now belongs to another process
// (same pid, other start time); a group whose maker runs is left alone.
func TestStaleGroupCleanedOnStart(t *testing.T) {
	t.Parallel()
	g := testGroup(t)

	// A maker that has exited: its pid and start time name no process.
	dead := exec.Command("sleep", "1000")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	deadStart := startTime(t, dead.Process.Pid)
	_ = dead.Process.Kill()
	_ = dead.Wait()
	// A maker that runs.
	owner := startReaped(t, exec.Command("sleep", "1000."+randDigits(t, 9)))
	ownerStart := startTime(t, owner.Process.Pid)
	ownerStartN, _ := strconv.Atoi(ownerStart)

	groups := []struct {
		name  string
		stale bool
	}{
		{fmt.Sprintf("ningen-%d.%s-0badc0de", dead.Process.Pid, deadStart), true},
		{fmt.Sprintf("ningen-%d.%d-0badcafe", owner.Process.Pid, ownerStartN-1), true},
		{fmt.Sprintf("ningen-%d.%s-00c0ffee", owner.Process.Pid, ownerStart), false},
	}
	marks := make([]string, len(groups))
	pids := make([]int, len(groups))
	for i, grp := range groups {
		if err := os.Mkdir(filepath.Join(g, grp.name), 0o755); err != nil {
			t.Fatal(err)
		}
		marks[i] = "1000." + randDigits(t, 12)
		pids[i] = startIn(t, filepath.Join(g, grp.name), "sleep", marks[i]).Process.Pid
	}

	// Start times count in clock ticks (10 ms): a ningen started in the dead
	// maker's tick would share its start time and rightly judge it alive.
	deadTick, _ := strconv.Atoi(deadStart)
	awaitTickAfter(t, deadTick)
	s, st := runSession(t, opts{prefix: enterGroup(g)}, "run", "--track", "cgroup", "--", "true")
	wantExit(t, s, st, 0)
	for i, grp := range groups {
		_, err := os.Stat(filepath.Join(g, grp.name))
		switch {
		case grp.stale && err == nil:
			t.Errorf("stale group %s is still there", grp.name)
		case grp.stale:
			awaitDead(t, pids[i], marks[i], "the process in stale group "+grp.name)
		case err != nil:
			t.Errorf("group %s of a running maker was removed: %v", grp.name, err)
		case !alive(pids[i], marks[i]):
			t.Errorf("the process in group %s of a running maker was killed", grp.name)
		}
	}
	if left := sessionGroups(g); len(left) != 1 {
		t.Errorf("groups left: %v, want only the running maker's", left)
	}
}

// TestTTLRaceManyTimes: --ttl 1ms races the child's start of its two
// sleeps, 300 times (30 with -short): every run exits 124 (ningen never
// signalled itself), runs the sequence once with trigger=ttl, and leaves
// no sleep alive.
func TestTTLRaceManyTimes(t *testing.T) {
	t.Parallel()
	runs := 300
	if testing.Short() {
		runs = 30
	}
	eachMode(t, func(t *testing.T, m trackMode) {
		for i := range runs {
			ok := t.Run(strconv.Itoa(i), func(t *testing.T) {
				marker := "100." + randDigits(t, 12)
				script := fmt.Sprintf("sleep %s & sleep %s & wait", marker, marker)
				s := start(t, opts{marker: marker, prefix: m.prefix},
					m.args([]string{"--ttl", "1ms"}, "/bin/sh", "-c", script)...)
				st := s.wait()
				if left := survivors(marker); len(left) > 0 {
					t.Errorf("alive when ningen exited: %v", left)
				}
				wantExit(t, s, st, 124)
				m.checkGroupsGone(t)
				s.err.awaitEOF(t)
				kill, _, _ := sequence(t, s.err.Lines())
				if trig := attr(kill, "trigger"); trig != "ttl" {
					t.Errorf("kill line %q: trigger %s, want ttl", kill, trig)
				}
				if e := attr(kill, "error"); e != "" {
					t.Errorf("kill step failed: %s", kill)
				}
			})
			if !ok {
				return
			}
		}
	})
}

// TestNeverSignalsOwnGroup: ningen shares its process group with a canary
// that is none of its holders; whatever ends the session, the canary
// lives on, not even stopped.
func TestNeverSignalsOwnGroup(t *testing.T) {
	t.Parallel()
	sig := func(sig syscall.Signal) func(*session) { return func(s *session) { s.signal(sig) } }
	triggers := []struct {
		name  string
		flags []string
		end   func(*session)
		want  exitStatus
	}{
		{"child-exit", nil, func(s *session) { s.send("exit 3") }, exitStatus{code: 3}},
		{"SIGTERM", nil, sig(syscall.SIGTERM), exitStatus{code: -1, signal: syscall.SIGTERM}},
		{"SIGINT", nil, sig(syscall.SIGINT), exitStatus{code: -1, signal: syscall.SIGINT}},
		{"SIGHUP", nil, sig(syscall.SIGHUP), exitStatus{code: -1, signal: syscall.SIGHUP}},
		{"SIGQUIT", nil, sig(syscall.SIGQUIT), exitStatus{code: -1, signal: syscall.SIGQUIT}},
		{"ttl", []string{"--ttl", "4s"}, func(*session) {}, exitStatus{code: 124}}, // outlasts the child's start
		{"SIGKILL", nil, sig(syscall.SIGKILL), exitStatus{code: -1, signal: syscall.SIGKILL}},
	}
	eachMode(t, func(t *testing.T, m trackMode) {
		for _, trig := range triggers {
			t.Run(trig.name, func(t *testing.T) {
				canaryMark := "1000." + randDigits(t, 12)
				canary := exec.Command("sleep", canaryMark)
				canary.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				cpid := startReaped(t, canary).Process.Pid
				join := []string{python, "-c", "import os, sys; os.setpgid(0, int(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])",
					strconv.Itoa(cpid)}
				marker := newMarker(t)
				s := start(t, opts{stdin: true, marker: marker, prefix: append(append([]string(nil), m.prefix...), join...)},
					m.args(append([]string{"--grace", "200ms"}, trig.flags...), agentArgs("--marker", marker)...)...)
				s.out.await(t, "the child", contains("role=child"))
				if pg := pgidOf(t, s.pid); pg != cpid {
					t.Fatalf("ningen is in process group %d, want the canary's %d", pg, cpid)
				}
				s.send("spawn")
				s.out.await(t, "the grandchild", contains("role=sub"))
				s.send("doublefork " + marker)
				s.out.await(t, "the detached grandchild", contains("role=sleeper"))
				trig.end(s)
				if st := s.wait(); st != trig.want {
					t.Errorf("ningen: %v, want %v\n%s", st, trig.want, s.err.dump())
				}
				switch {
				case trig.name != "SIGKILL":
					awaitNoneMarked(t, marker)
					s.err.awaitEOF(t)
					sequence(t, s.err.Lines())
				case m.group != "": // the watchdog's turn: wait until it is done
					deadline := time.Now().Add(waitLong)
					for len(sessionGroups(m.group)) > 0 && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
				}
				if st, _, ok := procStat(cpid); !ok || (st != 'S' && st != 'R') {
					t.Fatalf("the canary in ningen's process group: state %c, present %v: ningen signalled its own group", st, ok)
				}
			})
		}
	})
}

// TestSetuidChildAfterSIGKILL: PDEATHSIG is cleared when a process execs a
// set-uid program, so a direct child that is one (sudo, here a set-uid
// copy of sleep) outlives a SIGKILLed ningen in subreaper mode; in cgroup
// mode the watchdog is the backstop and kills it.
func TestSetuidChildAfterSIGKILL(t *testing.T) {
	t.Parallel()
	if !isRoot() {
		t.Skip("needs root: makes a set-uid program")
	}
	prog := filepath.Join(t.TempDir(), "sleep-setuid")
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(prog, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prog, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	eachMode(t, func(t *testing.T, m trackMode) {
		marker := "1000." + randDigits(t, 12)
		s := start(t, opts{marker: marker, prefix: m.prefix}, m.args(nil, prog, marker)...)
		line := s.err.await(t, "the start line", contains("event=start"))
		child := intField(t, line, "child")
		deadline := time.Now().Add(waitLong)
		for !alive(child, marker) || euidOf(child) != 65534 {
			if time.Now().After(deadline) {
				t.Fatalf("the set-uid child %d never ran as uid 65534 (alive %v, euid %d)\n%s", child, alive(child, marker), euidOf(child), s.err.dump())
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.signal(syscall.SIGKILL)
		wantSignaled(t, s, s.wait(), syscall.SIGKILL)
		if m.group != "" {
			awaitDead(t, child, marker, "the set-uid child (the watchdog's to kill)")
			return
		}
		deadline = time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if !alive(child, marker) {
				t.Fatalf("the set-uid child died with ningen: PDEATHSIG held across a set-uid exec")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("as expected, the set-uid child %d outlived a SIGKILLed ningen in subreaper mode", child)
	})
}

// euidOf is the effective uid from /proc/PID/status, -1 when unknown.
func euidOf(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 1 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return -1
}

// TestSIGKILLRightAfterStart: ningen SIGKILLed as soon as its child runs,
// before the watchdog it started may even have run a line of its own: the
// watchdog still kills the group and removes it.
func TestSIGKILLRightAfterStart(t *testing.T) {
	t.Parallel()
	m := newTrackMode(t, "cgroup")
	for i := range 10 {
		ok := t.Run(strconv.Itoa(i), func(t *testing.T) {
			marker := "1000." + randDigits(t, 12)
			s := start(t, opts{marker: marker, prefix: m.prefix},
				m.args(nil, "/bin/sh", "-c", `sleep "$0" & echo "ready pid=$!"; wait`, marker)...)
			gc := readyPID(t, s.out.await(t, "the sleep", hasPrefix("ready ")))
			s.signal(syscall.SIGKILL)
			wantSignaled(t, s, s.wait(), syscall.SIGKILL)
			awaitDead(t, gc, marker, "the grandchild of a SIGKILLed ningen")
			deadline := time.Now().Add(waitLong)
			for len(sessionGroups(m.group)) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the session's group is left: %v\n%s", sessionGroups(m.group), s.err.dump())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		if !ok {
			return
		}
	}
}

// TestFrozenWatchdog: a holder running as root moves the watchdog into a
// frozen cgroup v1 freezer group and exits. A frozen process cannot die;
// a ningen that waited for its SIGKILLed watchdog without limit hung for
// ever after its exit line (the breaker's finding), and ningen waits for
// none now. It must end with the child's code all the same, its group
// removed; the watchdog ends once thawed. Root only, where the v1 freezer
// is mounted.
func TestFrozenWatchdog(t *testing.T) {
	t.Parallel()
	m := newTrackMode(t, "cgroup")
	const freezer = "/sys/fs/cgroup/freezer"
	if _, err := os.Stat(filepath.Join(freezer, "cgroup.procs")); err != nil {
		t.Skipf("needs the cgroup v1 freezer at %s: %v", freezer, err)
	}
	fz := filepath.Join(freezer, "ningen-e2e-"+newMarker(t))
	if err := os.Mkdir(fz, 0o755); err != nil {
		t.Skipf("cannot make a v1 freezer group: %v", err)
	}
	thaw := func() { _ = os.WriteFile(filepath.Join(fz, "freezer.state"), []byte("THAWED"), 0) }
	t.Cleanup(func() {
		thaw()
		for range 100 { // the thawed watchdog leaves the group as it ends
			if err := unix.Rmdir(fz); err == nil || errors.Is(err, unix.ENOENT) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("freezer group %s left behind", fz)
	})
	script := onWatchdog(`echo "$p" > "$1/cgroup.procs"`) + `echo FROZEN > "$1/freezer.state" || exit 9
exit 4`
	s := start(t, opts{prefix: m.prefix}, m.args([]string{"--grace", "0"}, "sh", "-c", script, "sh", fz)...)
	go func() { <-s.done; thaw() }() // the watchdog holds ningen's stderr open until it dies
	st := s.wait()
	wantExit(t, s, st, 4)
	m.checkGroupsGone(t)
}

// TestStoppedWatchdog: a holder stops the watchdog (SIGSTOP, which any
// process of the user may send) and exits. ningen must end with the
// child's code, and a caller reading its stderr must reach the end at
// once: the watchdog holds none of the caller's descriptors. Once ningen
// has removed its group it retires the watchdog, stopped or not (through
// the go-between's process group, Linux 6.9+). A breaker found a caller
// that waited for the end of ningen's stderr until the watchdog was
// continued by hand, 609s later.
func TestStoppedWatchdog(t *testing.T) {
	t.Parallel()
	m := newTrackMode(t, "cgroup")
	script := onWatchdog(`kill -STOP "$p" && echo "watchdog=$p"`) + "exit 5"
	s := start(t, opts{prefix: m.prefix}, m.args([]string{"--grace", "0"}, "sh", "-c", script)...)
	w := intField(t, s.out.await(t, "the watchdog, stopped", hasPrefix("watchdog=")), "watchdog")
	wantExit(t, s, s.wait(), 5)
	s.err.awaitEOF(t)
	m.checkGroupsGone(t)
	if !haveGroupSignal(t) {
		t.Skip("needs Linux 6.9+ to retire the watchdog: pidfd_send_signal has no PIDFD_SIGNAL_PROCESS_GROUP")
	}
	awaitDead(t, w, "watchdog\x00--pid\x00"+strconv.Itoa(s.pid)+"\x00", "the stopped watchdog")
}

// onWatchdog is shell, for ningen's child, that runs action with $p set to
// the pid of ningen's watchdog, found by its argv (it is no child of
// ningen's), and exits 8 unless there is exactly one, 9 if action fails.
func onWatchdog(action string) string {
	return `n=0
for f in /proc/[0-9]*/cmdline; do
	case "$(tr '\0' ' ' < "$f" 2>/dev/null)" in
	*" watchdog --pid $PPID "*) p=${f#/proc/}; p=${p%/cmdline}; ` + action + ` || exit 9; n=$((n + 1)) ;;
	esac
done
[ "$n" = 1 ] || exit 8
`
}
