package main

// End-to-end tests: they build the real ningen once and run it on real
// processes, reading real /proc, with random fake secrets.
//
// Synchronisation is on what the processes say: the child (testdata/e2e/
// child.py) prints "ready ..." and one line per signal on stdout, ningen
// prints one audit line per step on stderr. Deadlines only bound how long a
// test waits for something that should happen; they never decide an order.
//
// The suite also runs unprivileged: build it with `go test -c`, build ningen
// with `go build`, and run the test binary as any user with NINGEN_E2E_BIN
// naming the ningen binary (the user needs to execute it, nothing more).

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed testdata/e2e/*.py testdata/e2e/*.c
var e2eFixtures embed.FS

// The binary under test and the fixtures, set up once by TestMain.
var (
	ningenBin string
	fixtures  string // directory holding child.py, reaper.py, jobshell.py
)

// python is the system interpreter: a pyenv shim would not work for another
// user, nor under a cleared environment.
const python = "/usr/bin/python3"

// waitLong bounds every wait for something that must happen. It is far
// longer than anything takes on a loaded 2-core machine, so reaching it
// means the thing did not happen.
const waitLong = 20 * time.Second

func TestMain(m *testing.M) {
	os.Exit(e2eMain(m))
}

func e2eMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ningen-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Other users run these files: the directory must be searchable.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if err := writeFixtures(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: fixtures:", err)
		return 1
	}
	fixtures = filepath.Join(dir, "testdata", "e2e")
	ningenBin = os.Getenv("NINGEN_E2E_BIN")
	if ningenBin == "" {
		ningenBin = filepath.Join(dir, "ningen")
		build := exec.Command("go", "build", "-o", ningenBin, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: go build failed (set NINGEN_E2E_BIN to a built ningen to run without the toolchain):", err)
			return 1
		}
	}
	return m.Run()
}

func writeFixtures(dir string) error {
	return fs.WalkDir(e2eFixtures, "testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := e2eFixtures.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o755)
	})
}

func childPy() string    { return filepath.Join(fixtures, "child.py") }
func reaperPy() string   { return filepath.Join(fixtures, "reaper.py") }
func jobshellPy() string { return filepath.Join(fixtures, "jobshell.py") }

// agentArgs is the command line of child.py in agent mode.
func agentArgs(args ...string) []string {
	return append([]string{python, childPy(), "agent"}, args...)
}

// --- random values -------------------------------------------------------

func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// randSecret is a printable random secret: hex, so it can sit in an
// environment variable and be searched for anywhere.
func randSecret(t testing.TB) []byte {
	return []byte(hex.EncodeToString(randBytes(t, 24)))
}

// newMarker is a random word put in the argv of the processes of one test,
// so that they can be found in /proc/*/cmdline.
func newMarker(t testing.TB) string {
	return "e2emark" + hex.EncodeToString(randBytes(t, 8))
}

// writeSecret stores a secret in a 0600 file of the test's temp dir.
func writeSecret(t testing.TB, dir, name string, value []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, value, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// --- line streams ----------------------------------------------------------

// stream collects what a process writes: every byte, for leak checks, and
// complete lines, for synchronisation.
type stream struct {
	name    string
	mu      sync.Mutex
	raw     []byte
	lines   []string
	partial []byte
	eof     bool
	changed chan struct{} // closed and replaced on every change
}

func newStream(name string, r io.Reader) *stream {
	s := &stream{name: name, changed: make(chan struct{})}
	go s.read(r)
	return s
}

func (s *stream) read(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		s.mu.Lock()
		s.raw = append(s.raw, buf[:n]...)
		s.partial = append(s.partial, buf[:n]...)
		for {
			i := bytes.IndexByte(s.partial, '\n')
			if i < 0 {
				break
			}
			s.lines = append(s.lines, strings.TrimRight(string(s.partial[:i]), "\r"))
			s.partial = s.partial[i+1:]
		}
		if err != nil {
			if len(s.partial) > 0 {
				s.lines = append(s.lines, string(s.partial))
				s.partial = nil
			}
			s.eof = true
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Lines is a copy of the complete lines so far.
func (s *stream) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Bytes is a copy of every byte so far.
func (s *stream) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.raw...)
}

// await returns the first line that satisfies match, waiting for it; it
// fails the test if the stream ends or waitLong passes first.
func (s *stream) await(t testing.TB, what string, match func(string) bool) string {
	t.Helper()
	line, err := s.awaitErr(waitLong, match)
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v\n%s", s.name, what, err, s.dump())
	}
	return line
}

func (s *stream) awaitErr(timeout time.Duration, match func(string) bool) (string, error) {
	deadline := time.After(timeout)
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.lines); seen++ {
			if match(s.lines[seen]) {
				l := s.lines[seen]
				s.mu.Unlock()
				return l, nil
			}
		}
		eof, changed := s.eof, s.changed
		s.mu.Unlock()
		if eof {
			return "", io.EOF
		}
		select {
		case <-changed:
		case <-deadline:
			return "", fmt.Errorf("nothing after %s", timeout)
		}
	}
}

// awaitEOF waits until every writer has closed the stream.
func (s *stream) awaitEOF(t testing.TB) {
	t.Helper()
	_, err := s.awaitErr(waitLong, func(string) bool { return false })
	if !errors.Is(err, io.EOF) {
		t.Fatalf("%s: still open after %s (a holder survived?)\n%s", s.name, waitLong, s.dump())
	}
}

func (s *stream) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("--- %s ---\n%s\n%q (no newline yet)\n---", s.name, strings.Join(s.lines, "\n"), s.partial)
}

func hasPrefix(p string) func(string) bool {
	return func(l string) bool { return strings.HasPrefix(l, p) }
}
func contains(p string) func(string) bool {
	return func(l string) bool { return strings.Contains(l, p) }
}

// count is how many lines contain sub.
func count(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// field returns the value of key=value in a line of words.
func attr(line, key string) string {
	for _, w := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			return v
		}
	}
	return ""
}

func intField(t testing.TB, line, key string) int {
	t.Helper()
	n, err := strconv.Atoi(attr(line, key))
	if err != nil {
		t.Fatalf("no integer %s= in %q", key, line)
	}
	return n
}

// --- running ningen ------------------------------------------------------

// session is one ningen process started by a test.
type session struct {
	t      testing.TB
	cmd    *exec.Cmd
	pid    int
	pidfd  int // signals go through it, so a reaped pid is never hit
	stdin  *os.File
	out    *stream // stdout: the child's lines (and ningen's, if any)
	err    *stream // stderr: ningen's audit lines, warnings and errors
	done   chan struct{}
	state  *os.ProcessState
	marker string
}

type opts struct {
	env    []string   // added to the environment
	stdin  bool       // give the child a pipe on stdin (s.stdin)
	extra  []*os.File // inherited by ningen as fds 3...
	prefix []string   // run ningen through this (prlimit, setpriv)
	marker string     // processes to kill when the test ends
}

// start runs `ningen args...` with stdout and stderr read line by line.
func start(t testing.TB, o opts, args ...string) *session {
	t.Helper()
	return startCmd(t, o, append([]string{ningenBin}, args...)...)
}

// startCmd runs argv (ningen, or a helper that starts it) the same way.
func startCmd(t testing.TB, o opts, argv ...string) *session {
	t.Helper()
	argv = append(append([]string(nil), o.prefix...), argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.ExtraFiles = o.extra
	s := &session{t: t, cmd: cmd, done: make(chan struct{}), marker: o.marker, pidfd: -1}
	outR, outW := mustPipe(t)
	errR, errW := mustPipe(t)
	cmd.Stdout, cmd.Stderr = outW, errW
	var inW *os.File
	if o.stdin {
		var inR *os.File
		inR, inW = mustPipe(t)
		cmd.Stdin = inR
		defer inR.Close()
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ningen: %v", err)
	}
	outW.Close()
	errW.Close()
	s.pid, s.stdin = cmd.Process.Pid, inW
	if fd, err := unix.PidfdOpen(s.pid, 0); err == nil {
		s.pidfd = fd
	}
	s.out = newStream("stdout", outR)
	s.err = newStream("stderr", errR)
	go func() {
		_ = cmd.Wait()
		s.state = cmd.ProcessState
		close(s.done)
	}()
	t.Cleanup(s.cleanup)
	return s
}

func mustPipe(t testing.TB) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

func (s *session) cleanup() {
	select {
	case <-s.done:
	default:
		s.signal(syscall.SIGKILL)
		<-s.done
	}
	if s.pidfd >= 0 {
		unix.Close(s.pidfd)
	}
	if s.stdin != nil {
		s.stdin.Close()
	}
	if s.marker != "" {
		killMarked(s.marker)
	}
}

// signal sends sig to ningen through its pidfd.
func (s *session) signal(sig syscall.Signal) {
	if s.pidfd >= 0 {
		_ = unix.PidfdSendSignal(s.pidfd, sig, nil, 0)
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(sig)
	}
}

// send writes one command line to the child's stdin.
func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("write to the child: %v", err)
	}
}

// wait waits for ningen to exit and returns how it ended. Unless ningen was
// SIGKILLed (and wrote nothing more), it then lets the reader get to the
// end of stderr, so that every audit line ningen wrote is there to check; a
// holder that outlived ningen keeps stderr open, and the test's own checks
// for survivors report it.
func (s *session) wait() exitStatus {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(waitLong):
		s.t.Fatalf("ningen still running after %s\n%s\n%s", waitLong, s.out.dump(), s.err.dump())
	}
	st := statusOf(s.state)
	if st.signal != syscall.SIGKILL {
		_, _ = s.err.awaitErr(waitLong, func(string) bool { return false })
	}
	return st
}

// runSession is start and wait, for sessions that need no interaction.
func runSession(t testing.TB, o opts, args ...string) (*session, exitStatus) {
	t.Helper()
	s := start(t, o, args...)
	st := s.wait()
	s.out.awaitEOF(t)
	s.err.awaitEOF(t)
	return s, st
}

// exitStatus is how a process ended: a code, or the signal that killed it.
type exitStatus struct {
	code   int
	signal syscall.Signal
}

func (e exitStatus) String() string {
	if e.signal != 0 {
		return "killed by " + unix.SignalName(e.signal)
	}
	return "exit " + strconv.Itoa(e.code)
}

func statusOf(ps *os.ProcessState) exitStatus {
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return exitStatus{code: -1, signal: ws.Signal()}
	}
	return exitStatus{code: ws.ExitStatus()}
}

func wantExit(t testing.TB, s *session, got exitStatus, code int) {
	t.Helper()
	if got.signal != 0 || got.code != code {
		t.Fatalf("ningen: %v, want exit %d\n%s\n%s", got, code, s.out.dump(), s.err.dump())
	}
}

func wantSignaled(t testing.TB, s *session, got exitStatus, sig syscall.Signal) {
	t.Helper()
	if got.signal != sig {
		t.Fatalf("ningen: %v, want killed by %s\n%s\n%s", got, unix.SignalName(sig), s.out.dump(), s.err.dump())
	}
}

// --- audit lines -----------------------------------------------------------

type auditLine struct {
	event string
	line  string
}

// audits parses ningen's text audit lines.
func audits(lines []string) []auditLine {
	var out []auditLine
	for _, l := range lines {
		i := strings.Index(l, "ningen: audit ")
		if i < 0 {
			continue
		}
		l = l[i:]
		out = append(out, auditLine{event: attr(l, "event"), line: l})
	}
	return out
}

// sequence checks that the audit lines hold exactly one kill, one wipe and
// one exit, in that order, after the start line, all with the same trigger,
// and returns them. Other events (start, seccomp, ...) are not its business.
func sequence(t testing.TB, stderr []string) (kill, wipe, exit string) {
	t.Helper()
	var names []string
	var got []auditLine
	for _, a := range audits(stderr) {
		switch a.event {
		case "start":
			if len(got) > 0 {
				t.Errorf("a start line after the kill sequence began:\n%s", strings.Join(stderr, "\n"))
			}
			names = append(names, a.event)
		case "kill", "wipe", "exit":
			names = append(names, a.event)
			got = append(got, a)
		}
	}
	if strings.Join(names, ",") != "start,kill,wipe,exit" {
		t.Fatalf("audit events %v, want exactly start,kill,wipe,exit\n%s", names, strings.Join(stderr, "\n"))
	}
	trig := attr(got[0].line, "trigger")
	for _, a := range got {
		if attr(a.line, "trigger") != trig {
			t.Fatalf("triggers differ across the sequence:\n%s", strings.Join(stderr, "\n"))
		}
	}
	return got[0].line, got[1].line, got[2].line
}

// --- /proc -----------------------------------------------------------------

// procStat returns the state letter and parent of pid; ok is false when the
// process is gone.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(string(f[1]))
	return f[0][0], ppid, true
}

// alive reports whether pid is a live (not zombie) process whose argv still
// holds marker: a reused pid or a zombie does not count.
func alive(pid int, marker string) bool {
	st, _, ok := procStat(pid)
	if !ok || st == 'Z' || st == 'X' {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && bytes.Contains(b, []byte(marker))
}

// marked lists the live processes whose argv holds marker.
func marked(marker string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && alive(pid, marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killMarked(marker string) {
	for _, pid := range marked(marker) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// awaitDead fails unless pid (holding marker) is dead within waitLong. It
// runs after the fact: the process should already be dead or dying.
func awaitDead(t testing.TB, pid int, marker, what string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for alive(pid, marker) {
		if time.Now().After(deadline) {
			st, _, _ := procStat(pid)
			t.Fatalf("%s (pid %d) still alive after %s, state %c", what, pid, waitLong, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// awaitNoneMarked fails unless every process holding marker is dead.
func awaitNoneMarked(t testing.TB, marker string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		left := marked(marker)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v still alive after %s", left, waitLong)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// awaitState polls until pid's state letter satisfies ok.
func awaitState(t testing.TB, pid int, what string, ok func(byte) bool) byte {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		st, _, present := procStat(pid)
		if present && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d): state %c after %s", what, pid, st, waitLong)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readyPID parses the pid out of a child.py ready line.
func readyPID(t testing.TB, line string) int { return intField(t, line, "pid") }

// secretIn reports which of the secrets occur in b.
func secretIn(b []byte, secrets ...[]byte) []int {
	var found []int
	for i, s := range secrets {
		if len(s) > 0 && bytes.Contains(b, s) {
			found = append(found, i)
		}
	}
	return found
}

// noLeak fails if any secret appears in what ningen printed.
func noLeak(t testing.TB, s *session, secrets ...[]byte) {
	t.Helper()
	if f := secretIn(s.out.Bytes(), secrets...); f != nil {
		t.Errorf("secret(s) %v appear on ningen's stdout", f)
	}
	if f := secretIn(s.err.Bytes(), secrets...); f != nil {
		t.Errorf("secret(s) %v appear on ningen's stderr", f)
	}
}

// fileMustNotExist is how tests check that nothing was started.
func fileMustNotExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (err %v): the command ran", p, err)
	}
}

// randDigits is a random decimal string, for markers that must be numbers
// (sleep 60.<digits>).
func randDigits(t testing.TB, n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// readLinesFile returns the lines of a small file.
func readLinesFile(t testing.TB, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func isRoot() bool { return os.Geteuid() == 0 }
