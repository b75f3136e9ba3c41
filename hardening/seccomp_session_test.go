//go:build linux && cgo

package hardening

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Sessions through the real ningen binary, built as users get it (no
// -race), with the filter live: every trigger, forwarding, a 1 MiB secret,
// GC pressure, new threads, and none may end in SIGSYS.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// ningenBinary builds the command once per test binary, or uses
// $NINGEN_BIN (scripts/test.sh passes one it built).
func ningenBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NINGEN_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ningen-seccomp-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ningen")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/ningen-shikkaku/ningen").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestMain removes the ningen that ningenBin built, if it built one.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" && os.Getenv("NINGEN_BIN") == "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// session is one ningen run, its stderr read line by line.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	lines  chan string
	mu     sync.Mutex
	log    bytes.Buffer
	child  int
}

func startSession(t *testing.T, env []string, args ...string) *session {
	t.Helper()
	cmd := exec.Command(ningenBinary(t), args...)
	cmd.Env = append(append(os.Environ(), "GOGC=1"), env...)
	s := &session{t: t, cmd: cmd, lines: make(chan string, 64)}
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdout = bufio.NewReader(out)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

func (s *session) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

var childRE = regexp.MustCompile(`event=start child=(\d+)`)

// waitStart blocks until ningen reports the session started (the filter
// is loaded by then) and returns false if ningen ended first.
func (s *session) waitStart() bool {
	s.t.Helper()
	seccomp := false
	for line := range s.lines {
		if strings.Contains(line, "event=seccomp") {
			seccomp = strings.Contains(line, "loaded=true") && strings.Contains(line, "mode=kill")
		}
		if m := childRE.FindStringSubmatch(line); m != nil {
			if !seccomp {
				s.t.Fatalf("session started without the filter:\n%s", s.stderr())
			}
			s.child, _ = strconv.Atoi(m[1])
			return true
		}
	}
	return false
}

// readLine waits for one line of the child's output.
func (s *session) readLine() string {
	s.t.Helper()
	l, err := s.stdout.ReadString('\n')
	if err != nil {
		s.t.Fatalf("child output: %v (%q)\n%s", err, l, s.stderr())
	}
	return strings.TrimSpace(l)
}

// wait returns ningen's wait status, failing the test on SIGSYS.
func (s *session) wait() syscall.WaitStatus {
	s.t.Helper()
	ws := s.status()
	if ws.Signaled() && ws.Signal() == syscall.SIGSYS {
		s.t.Fatalf("ningen died of SIGSYS: a call outside the policy\n%s", s.stderr())
	}
	return ws
}

// status waits for ningen to end; safe to call from any goroutine.
func (s *session) status() syscall.WaitStatus {
	for range s.lines { // drain, so the scanner ends
	}
	_ = s.cmd.Wait()
	return s.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// checkConfined reads /proc/PID/task/*/status of ningen and its child: every
// thread of ningen under exactly one filter, the child under none.
func checkConfined(t *testing.T, pid, child int) (threads int) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0 // ended already
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue
		}
		if mode, n := statusSeccomp(b); mode != "2" || n != 1 {
			t.Errorf("ningen thread %s: Seccomp: %s, Seccomp_filters: %d; want 2 and 1", task.Name(), mode, n)
		}
		threads++
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", child)); err == nil {
		if mode, n := statusSeccomp(b); mode != "0" || n != 0 {
			t.Errorf("child %d: Seccomp: %s, Seccomp_filters: %d; want no filter", child, mode, n)
		}
	}
	return threads
}

type trigger struct {
	name string
	run  func(t *testing.T, fx *fixture) syscall.WaitStatus
}

type fixture struct {
	dir string
	big string // a 1 MiB secret with no trailing newline
	py  string // the forwarding child
}

func newFixture(t *testing.T) *fixture {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3 for the forwarding child")
	}
	dir := t.TempDir()
	fx := &fixture{dir: dir, big: filepath.Join(dir, "big"), py: filepath.Join(dir, "forward.py")}
	if err := os.WriteFile(fx.big, bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	// The child acknowledges each forwarded signal on stdout, and exits 5
	// when the test writes "exit".
	// The signals are blocked and taken by a thread in sigwait: a Python
	// handler runs only between bytecodes, so a signal landing just before
	// the main thread blocks in read() would wait for the next input.
	py := `import signal, sys, threading
names = {signal.SIGUSR1: "usr1", signal.SIGWINCH: "winch"}
signal.pthread_sigmask(signal.SIG_BLOCK, names)
def acknowledge():
    while True:
        print(names[signal.sigwait(names)], flush=True)
threading.Thread(target=acknowledge, daemon=True).start()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "exit":
        sys.exit(5)
`
	if err := os.WriteFile(fx.py, []byte(py), 0o600); err != nil {
		t.Fatal(err)
	}
	return fx
}

// signalled runs a session that ends when sig reaches ningen.
func signalled(sig syscall.Signal) func(*testing.T, *fixture) syscall.WaitStatus {
	return func(t *testing.T, _ *fixture) syscall.WaitStatus {
		s := startSession(t, nil, "run", "--", "sleep", "60")
		if s.waitStart() {
			checkConfined(t, s.cmd.Process.Pid, s.child)
			_ = s.cmd.Process.Signal(sig)
		}
		return s.wait()
	}
}

func expectSignal(sig syscall.Signal) func(syscall.WaitStatus) bool {
	return func(ws syscall.WaitStatus) bool { return ws.Signaled() && ws.Signal() == sig }
}

func expectCode(code int) func(syscall.WaitStatus) bool {
	return func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == code }
}

var triggers = []struct {
	trigger
	want func(syscall.WaitStatus) bool
	what string
}{
	{trigger{"child exit", func(t *testing.T, _ *fixture) syscall.WaitStatus {
		s := startSession(t, nil, "run", "--", "sh", "-c", "read x; exit 3")
		if s.waitStart() {
			checkConfined(t, s.cmd.Process.Pid, s.child)
			_, _ = s.stdin.Write([]byte("go\n"))
		}
		return s.wait()
	}}, expectCode(3), "exit 3"},
	{trigger{"ttl", func(t *testing.T, _ *fixture) syscall.WaitStatus {
		s := startSession(t, nil, "run", "--ttl", "100ms", "--", "sleep", "60")
		s.waitStart()
		return s.wait()
	}}, expectCode(124), "exit 124"},
	{trigger{"SIGTERM", signalled(syscall.SIGTERM)}, expectSignal(syscall.SIGTERM), "death by SIGTERM"},
	{trigger{"SIGHUP", signalled(syscall.SIGHUP)}, expectSignal(syscall.SIGHUP), "death by SIGHUP"},
	{trigger{"parent death", parentDeath}, expectCode(129), "exit 129"},
	{trigger{"forwarding", func(t *testing.T, fx *fixture) syscall.WaitStatus {
		s := startSession(t, nil, "run", "--", "python3", fx.py)
		if s.waitStart() {
			if l := s.readLine(); l != "ready" {
				t.Fatalf("child said %q", l)
			}
			checkConfined(t, s.cmd.Process.Pid, s.child)
			for i := 0; i < 3; i++ {
				_ = s.cmd.Process.Signal(syscall.SIGUSR1)
				if l := s.readLine(); l != "usr1" {
					t.Fatalf("after SIGUSR1 the child said %q", l)
				}
			}
			_ = s.cmd.Process.Signal(syscall.SIGWINCH)
			if l := s.readLine(); l != "winch" {
				t.Fatalf("after SIGWINCH the child said %q", l)
			}
			_, _ = s.stdin.Write([]byte("exit\n"))
		}
		return s.wait()
	}}, expectCode(5), "exit 5"},
	{trigger{"1 MiB secret", func(t *testing.T, fx *fixture) syscall.WaitStatus {
		s := startSession(t, nil, "run", "--max-secret-size", "2MiB", "-s", "K=file:"+fx.big, "--",
			"sh", "-c", `read x; n=$(wc -c < /dev/fd/$NINGEN_FD_K); [ "$n" -eq 1048576 ] && exit 7; exit 1`)
		if s.waitStart() {
			checkConfined(t, s.cmd.Process.Pid, s.child)
			_, _ = s.stdin.Write([]byte("go\n"))
		}
		return s.wait()
	}}, expectCode(7), "exit 7 (the child read 1048576 bytes)"},
	{trigger{"SIGUSR1 storm", func(t *testing.T, _ *fixture) syscall.WaitStatus {
		// The child sends ningen 300 SIGUSR1s as fast as it can; each is
		// forwarded back to it while GOGC=1 keeps the collector busy.
		s := startSession(t, []string{"GOMAXPROCS=8"}, "run", "--", "sh", "-c",
			`trap : USR1; read x; i=0; while [ $i -lt 300 ]; do kill -USR1 $PPID; i=$((i+1)); done; exit 0`)
		if s.waitStart() {
			checkConfined(t, s.cmd.Process.Pid, s.child)
			_, _ = s.stdin.Write([]byte("go\n"))
		}
		return s.wait()
	}}, expectCode(0), "exit 0"},
}

// parentDeath runs ningen under a shell that is then killed, from a
// re-executed helper that is a subreaper, so it inherits ningen and can
// report how it exited.
func parentDeath(t *testing.T, _ *fixture) syscall.WaitStatus {
	cmd := exec.Command(os.Args[0], "-test.run=^TestSessionReaperHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NINGEN_REAPER_HELPER="+ningenBinary(t), "GOGC=1")
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`ningen status (\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("reaper helper: %v\n%s", err, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	ws := syscall.WaitStatus(n)
	if ws.Signaled() && ws.Signal() == syscall.SIGSYS {
		t.Fatalf("ningen died of SIGSYS after its parent died:\n%s", out)
	}
	return ws
}

// TestSessionReaperHelper is not a test: it is parentDeath's middle process.
func TestSessionReaperHelper(t *testing.T) {
	bin := os.Getenv("NINGEN_REAPER_HELPER")
	if bin == "" {
		t.Skip("helper for the parent-death sessions")
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Println("subreaper:", err)
		os.Exit(1)
	}
	sh := exec.Command("sh", "-c", `"$0" run -- sleep 60 & wait`, bin)
	errPipe, _ := sh.StderrPipe()
	if err := sh.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() && !strings.Contains(sc.Text(), "event=start") {
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh.Process.Pid, sh.Process.Pid))
	ningen, _ := strconv.Atoi(strings.TrimSpace(string(kids)))
	_ = sh.Process.Kill()
	_ = sh.Wait()
	go func() { _, _ = io.Copy(io.Discard, errPipe) }()
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(ningen, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if pid != ningen || err != nil {
			fmt.Println("wait4:", pid, err)
			os.Exit(1)
		}
		break
	}
	fmt.Printf("ningen status %d\n", int(ws))
	os.Exit(0)
}

// TestSessionsUnderTheFilter is the run of 200 sessions (48 with
// -short) rotating through every trigger.
func TestSessionsUnderTheFilter(t *testing.T) {
	needSeccomp(t)
	fx := newFixture(t)
	n := 200
	if testing.Short() {
		n = 48
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		tr := triggers[i%len(triggers)]
		ws := tr.run(t, fx)
		if !tr.want(ws) {
			t.Fatalf("session %d (%s): status %#x (exited %v code %d, signaled %v %v), want %s",
				i, tr.name, int(ws), ws.Exited(), ws.ExitStatus(), ws.Signaled(), ws.Signal(), tr.what)
		}
	}
	t.Logf("%d sessions in %v", n, time.Since(start).Round(time.Millisecond))
}

// TestManyShortSessions: the teardown path (kill, munlock, munmap, madvise,
// tgkill, exit_group) is inside the policy, 500 times over.
func TestManyShortSessions(t *testing.T) {
	needSeccomp(t)
	if testing.Short() {
		t.Skip("500 sessions: skipped with -short")
	}
	secret := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(secret, []byte("short-lived"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		cmd := exec.Command(ningenBinary(t), "run", "-q", "--ttl", "20ms", "-s", "S=file:"+secret, "--", "sleep", "10")
		cmd.Env = append(os.Environ(), "GOGC=1")
		out, _ := cmd.CombinedOutput()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() && ws.Signal() == syscall.SIGSYS {
			t.Fatalf("session %d died of SIGSYS:\n%s", i, out)
		}
		if !ws.Exited() || ws.ExitStatus() != 124 {
			t.Fatalf("session %d: status %#x, want exit 124:\n%s", i, int(ws), out)
		}
	}
}

// TestAffinityChangesUnderTheFilter runs one session while its CPU affinity
// flips, with the runtime's GOMAXPROCS updates turned back on
// (GODEBUG=updatemaxprocs=1 overrides main.go's default), so the update
// path of this Go release runs under the filter. 5s by default;
// NINGEN_SECCOMP_SOAK=3m for the several minutes.
func TestAffinityChangesUnderTheFilter(t *testing.T) {
	needSeccomp(t)
	soak := 5 * time.Second
	if v := os.Getenv("NINGEN_SECCOMP_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		soak = d
	} else if testing.Short() {
		soak = 2 * time.Second
	}
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skipf("needs two CPUs to change affinity (have %d, %v)", all.Count(), err)
	}
	var one unix.CPUSet
	for c := 0; c < 1024; c++ {
		if all.IsSet(c) {
			one.Set(c)
			break
		}
	}
	s := startSession(t, []string{"GODEBUG=updatemaxprocs=1"}, "run", "--ttl", soak.String(), "--", "sleep", "3600")
	if !s.waitStart() {
		t.Fatalf("session did not start:\n%s", s.stderr())
	}
	pid := s.cmd.Process.Pid
	done := make(chan syscall.WaitStatus)
	go func() { done <- s.status() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	flips := 0
	for {
		select {
		case ws := <-done:
			if ws.Signaled() && ws.Signal() == syscall.SIGSYS {
				t.Fatalf("ningen died of SIGSYS after %d affinity changes:\n%s", flips, s.stderr())
			}
			if !ws.Exited() || ws.ExitStatus() != 124 {
				t.Fatalf("status %#x, want exit 124 at the TTL:\n%s", int(ws), s.stderr())
			}
			t.Logf("%d affinity changes over %v", flips, soak)
			return
		case <-tick.C:
			set := &all
			if flips%2 == 0 {
				set = &one
			}
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			for _, task := range tasks {
				tid, _ := strconv.Atoi(task.Name())
				_ = unix.SchedSetaffinity(tid, set)
			}
			_ = unix.Kill(pid, unix.SIGWINCH) // forwarded: wakes ningen, so sysmon runs
			flips++
		}
	}
}
