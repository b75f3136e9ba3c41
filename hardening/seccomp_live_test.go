//go:build linux && cgo

package hardening

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// These tests load the real filter into a re-executed copy of the test
// binary (never into the test process itself) and make one call there.

const seccompHelperEnv = "NINGEN_SECCOMP_HELPER"

// liveCase is one call made under the live kill filter. args are what the
// filter sees (the simulation gets the same); call makes it for real.
type liveCase struct {
	name  string
	sys   string // the policy's name for the call
	arch  string // "" for every arch
	args  [6]uint64
	nr    int32 // overrides the number (x32); 0 means resolve sys
	call  func(dir string) (uintptr, syscall.Errno)
	after func(t *testing.T, dir string) // checks the call left no trace
}

func raw(nr uintptr, a ...uintptr) (uintptr, syscall.Errno) {
	var v [6]uintptr
	copy(v[:], a)
	r, _, e := syscall.RawSyscall6(nr, v[0], v[1], v[2], v[3], v[4], v[5])
	return r, e
}

func cstr(s string) uintptr {
	b, _ := unix.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(b))
}

const atFDCWD = ^uintptr(99) // AT_FDCWD, -100

func liveCases() []liveCase {
	page := func() uintptr {
		m, _ := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		return uintptr(unsafe.Pointer(&m[0]))
	}
	noFile := func(name string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("%s exists: the forbidden call ran", name)
			}
		}
	}
	return []liveCase{
		{name: "getpid", sys: "getpid", call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_GETPID) }},
		{name: "getppid", sys: "getppid", call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_GETPPID) }},
		{name: "ioctl TCGETS", sys: "ioctl", args: [6]uint64{0, tcgets}, call: func(string) (uintptr, syscall.Errno) {
			var t unix.Termios
			return raw(unix.SYS_IOCTL, 0, tcgets, uintptr(unsafe.Pointer(&t)))
		}},
		{name: "ioctl TIOCSTI", sys: "ioctl", args: [6]uint64{0, unix.TIOCSTI}, call: func(string) (uintptr, syscall.Errno) {
			c := byte('x')
			return raw(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		}},
		{name: "openat read-only", sys: "openat", args: [6]uint64{uint64(atFDCWD), 0, unix.O_RDONLY | unix.O_CLOEXEC},
			call: func(string) (uintptr, syscall.Errno) {
				return raw(unix.SYS_OPENAT, atFDCWD, cstr("/proc/self/stat"), unix.O_RDONLY|unix.O_CLOEXEC)
			}},
		{name: "openat create", sys: "openat", args: [6]uint64{uint64(atFDCWD), 0, unix.O_WRONLY | unix.O_CREAT | unix.O_CLOEXEC},
			call: func(dir string) (uintptr, syscall.Errno) {
				return raw(unix.SYS_OPENAT, atFDCWD, cstr(filepath.Join(dir, "created")), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
			}, after: noFile("created")},
		{name: "openat O_RDONLY|O_CREAT", sys: "openat", args: [6]uint64{uint64(atFDCWD), 0, unix.O_RDONLY | unix.O_CREAT},
			call: func(dir string) (uintptr, syscall.Errno) {
				return raw(unix.SYS_OPENAT, atFDCWD, cstr(filepath.Join(dir, "created-ro")), unix.O_RDONLY|unix.O_CREAT, 0o600)
			}, after: noFile("created-ro")},
		{name: "mmap PROT_EXEC", sys: "mmap", args: [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_PRIVATE | unix.MAP_ANON, ^uint64(0), 0},
			call: func(string) (uintptr, syscall.Errno) {
				return raw(unix.SYS_MMAP, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON, ^uintptr(0), 0)
			}},
		{name: "madvise MADV_DONTNEED", sys: "madvise", args: [6]uint64{0, 4096, unix.MADV_DONTNEED},
			call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_MADVISE, page(), 4096, unix.MADV_DONTNEED) }},
		{name: "madvise MADV_DODUMP", sys: "madvise", args: [6]uint64{0, 4096, unix.MADV_DODUMP},
			call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_MADVISE, page(), 4096, unix.MADV_DODUMP) }},
		{name: "clone3", sys: "clone3", call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_CLONE3, 0, 0) }},
		{name: "clone without CLONE_THREAD (fork)", sys: "clone", args: [6]uint64{uint64(unix.SIGCHLD)},
			call: func(string) (uintptr, syscall.Errno) {
				r, e := raw(unix.SYS_CLONE, uintptr(unix.SIGCHLD))
				if e == 0 && r == 0 {
					unix.Exit(0) // the forked copy: it must not go on
				}
				return r, e
			}},
		{name: "ptrace", sys: "ptrace", args: [6]uint64{unix.PTRACE_TRACEME},
			call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_PTRACE, unix.PTRACE_TRACEME) }},
		{name: "execve", sys: "execve", call: func(string) (uintptr, syscall.Errno) {
			argv := []uintptr{cstr("/bin/true"), 0}
			return raw(unix.SYS_EXECVE, cstr("/bin/true"), uintptr(unsafe.Pointer(&argv[0])), 0)
		}},
		{name: "socket", sys: "socket", args: [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM},
			call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0) }},
		{name: "process_vm_readv", sys: "process_vm_readv", call: func(string) (uintptr, syscall.Errno) {
			return raw(unix.SYS_PROCESS_VM_READV, uintptr(os.Getpid()), 0, 0, 0, 0, 0)
		}},
		{name: "prctl PR_SET_DUMPABLE 1", sys: "prctl", args: [6]uint64{unix.PR_SET_DUMPABLE, 1},
			call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1) }},
		{name: "unlinkat a file", sys: "unlinkat", args: [6]uint64{uint64(atFDCWD), 0, 0},
			call: func(dir string) (uintptr, syscall.Errno) {
				return raw(unix.SYS_UNLINKAT, atFDCWD, cstr(filepath.Join(dir, "keep")), 0)
			}, after: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
					t.Errorf("keep: %v: the forbidden unlink ran", err)
				}
			}},
		{name: "unlinkat an empty directory", sys: "unlinkat", args: [6]uint64{uint64(atFDCWD), 0, unix.AT_REMOVEDIR},
			call: func(dir string) (uintptr, syscall.Errno) {
				return raw(unix.SYS_UNLINKAT, atFDCWD, cstr(filepath.Join(dir, "empty")), unix.AT_REMOVEDIR)
			}},
		{name: "kill 0 to itself", sys: "kill", args: [6]uint64{0, 0},
			call: func(string) (uintptr, syscall.Errno) { return raw(unix.SYS_KILL, uintptr(os.Getpid()), 0) }},
		{name: "open", sys: "open", arch: "amd64", call: func(string) (uintptr, syscall.Errno) {
			return raw(2, cstr("/proc/self/stat"), unix.O_RDONLY) // SYS_OPEN: amd64 only
		}},
		{name: "getpid through x32", sys: "getpid", arch: "amd64", nr: 39 | x32SyscallBit,
			call: func(string) (uintptr, syscall.Errno) { return raw(39 | x32SyscallBit) }},
	}
}

// TestSeccompHelper is not a test: it is the re-executed child.
func TestSeccompHelper(t *testing.T) {
	which := os.Getenv(seccompHelperEnv)
	if which == "" {
		t.Skip("helper for the seccomp subprocess tests")
	}
	os.Exit(helperMain(which, os.Getenv("NINGEN_SECCOMP_DIR"), SeccompMode(os.Getenv("NINGEN_SECCOMP_MODE"))))
}

func helperMain(which, dir string, mode SeccompMode) int {
	if err := AtStart(); err != nil { // no core file from the SIGSYS
		fmt.Fprintln(os.Stderr, err)
		return 90
	}
	if mode == "" {
		mode = SeccompKill
	}
	var pipes [32][2]int // made before the load: pipe2 is not in the policy
	for i := range pipes {
		if err := unix.Pipe2(pipes[i][:], unix.O_CLOEXEC); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 94
		}
	}
	f, err := NewFilter(mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 91
	}
	c, err := f.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 92
	}
	fmt.Printf("loaded threads=%d filters=%d took=%d\n", c.Threads, c.Filters, c.Took.Nanoseconds())
	if which == "threads" {
		return helperThreads(pipes[:])
	}
	for _, lc := range liveCases() {
		if lc.name == which {
			r, e := lc.call(dir)
			fmt.Printf("returned %d errno %d\n", r, e)
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "no case %q\n", which)
	return 93
}

// helperThreads makes the runtime start OS threads under the filter and end
// them again, collects garbage, and checks every thread carries the filter.
func helperThreads(pipes [][2]int) int {
	before := len(taskIDs())
	var wg sync.WaitGroup
	for _, p := range pipes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // returning while locked ends the thread
			var b [1]byte
			_, _ = unix.Read(p[0], b[:]) // a blocking read: one thread each
		}()
	}
	for len(taskIDs()) < before+len(pipes) {
		runtime.Gosched()
	}
	during := taskIDs()
	bad := 0
	for _, tid := range during {
		b, err := os.ReadFile("/proc/self/task/" + tid + "/status")
		if err != nil {
			continue
		}
		if mode, n := statusSeccomp(b); mode != "2" || n != 1 {
			fmt.Printf("thread %s: Seccomp %s, %d filters\n", tid, mode, n)
			bad++
		}
	}
	for _, p := range pipes {
		_, _ = unix.Write(p[1], []byte{1})
	}
	wg.Wait()
	runtime.GC()
	fmt.Printf("threads before=%d during=%d unfiltered=%d\n", before, len(during), bad)
	if bad > 0 {
		return 95
	}
	return 0
}

func taskIDs() []string {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	return names
}

type outcome struct {
	killed bool // died of SIGSYS
	errno  syscall.Errno
	stdout string
	stderr string
}

func runHelper(t *testing.T, which, dir string, mode SeccompMode) outcome {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeccompHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), seccompHelperEnv+"="+which, "NINGEN_SECCOMP_DIR="+dir, "NINGEN_SECCOMP_MODE="+string(mode))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	o := outcome{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() && ws.Signal() == syscall.SIGSYS {
			o.killed = true
			return o
		}
		if mode == SeccompTrap {
			return o
		}
		t.Fatalf("%s: helper failed: %v\nstdout: %s\nstderr: %s", which, err, o.stdout, o.stderr)
	} else if err != nil {
		t.Fatalf("%s: %v", which, err)
	}
	if !strings.Contains(o.stdout, "loaded threads=") {
		t.Fatalf("%s: the filter did not load:\n%s%s", which, o.stdout, o.stderr)
	}
	if i := strings.Index(o.stdout, "errno "); i >= 0 {
		n, _ := strconv.Atoi(strings.Fields(o.stdout[i+len("errno "):])[0])
		o.errno = syscall.Errno(n)
	}
	return o
}

func needSeccomp(t *testing.T) {
	t.Helper()
	if err := seccompSupportError(seccompSupport()); err != nil {
		t.Skipf("this kernel cannot load the filter: %v", err)
	}
}

// Each call runs in its own process under the live filter; the outcome
// must be what the simulated program says for the same seccomp_data, and
// what the table says.
func TestLiveFilterMatchesSimulation(t *testing.T) {
	needSeccomp(t)
	vm := program(t, runtime.GOARCH, SeccompKill)
	entries, _ := PolicyFor(runtime.GOARCH)
	for _, lc := range liveCases() {
		if lc.arch != "" && lc.arch != runtime.GOARCH {
			continue
		}
		t.Run(lc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "empty"), 0o700); err != nil {
				t.Fatal(err)
			}
			nr := lc.nr
			if nr == 0 {
				nr = int32(syscallNR(lc.sys, runtime.GOARCH))
			}
			sim := run(t, vm, seccompData{nr: nr, arch: auditArch[runtime.GOARCH], args: lc.args})
			table := tableVerdict(lc, entries)
			if sim != table {
				t.Errorf("simulation %#x, table %#x", sim, table)
			}
			o := runHelper(t, lc.name, dir, SeccompKill)
			var live uint32
			switch {
			case o.killed:
				live = retKillProcess
			case o.errno == syscall.ENOSYS && lc.sys == "clone3":
				live = retErrno | enosys
			default:
				live = retAllow
			}
			if live != sim {
				t.Errorf("kernel %#x (stdout %q), simulation %#x", live, o.stdout, sim)
			}
			if lc.after != nil {
				lc.after(t, dir)
			}
		})
	}
}

// tableVerdict is what the policy table itself says about a case.
func tableVerdict(lc liveCase, entries []Syscall) uint32 {
	if lc.nr != 0 {
		return retKillProcess // another ABI
	}
	for _, s := range entries {
		if s.Name == lc.sys && satisfies(s, lc.args) {
			return want(s)
		}
	}
	return retKillProcess
}

// Threads the runtime starts after the load inherit the filter, and ending
// them (a locked goroutine returning) is inside the policy.
func TestLiveFilterOnEveryThread(t *testing.T) {
	needSeccomp(t)
	o := runHelper(t, "threads", t.TempDir(), SeccompKill)
	if o.killed {
		t.Fatalf("new threads under the filter died of SIGSYS:\n%s%s", o.stdout, o.stderr)
	}
	if !strings.Contains(o.stdout, "unfiltered=0") || !strings.Contains(o.stdout, "filters=1") {
		t.Fatalf("helper output:\n%s%s", o.stdout, o.stderr)
	}
	t.Log(strings.TrimSpace(o.stdout))
}

// In trap mode the Go runtime reports where the call was made.
func TestTrapModeNamesTheCall(t *testing.T) {
	needSeccomp(t)
	o := runHelper(t, "ptrace", t.TempDir(), SeccompTrap)
	if o.killed {
		t.Fatal("trap mode killed the process outright")
	}
	for _, want := range []string{"SIGSYS", "hardening.liveCases"} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("trap output lacks %q:\n%s", want, o.stderr)
		}
	}
}

// In log mode the call runs; the kernel logs it.
func TestLogModeLetsTheCallRun(t *testing.T) {
	needSeccomp(t)
	o := runHelper(t, "socket", t.TempDir(), SeccompLog)
	if o.killed || o.errno != 0 {
		t.Fatalf("log mode: killed=%v errno=%v\n%s%s", o.killed, o.errno, o.stdout, o.stderr)
	}
}

// BenchmarkSeccompBuild compiles the policy for this arch (no load: the
// benchmark process stays unconfined).
func BenchmarkSeccompBuild(b *testing.B) {
	for b.Loop() {
		f, err := NewFilter(SeccompKill)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
}

// BenchmarkSeccompBuildAndLoad builds and loads the filter in a fresh
// helper process each time and reports the helper's own measurement of
// NewFilter + Load (which includes the per-thread check).
func BenchmarkSeccompBuildAndLoad(b *testing.B) {
	var total time.Duration
	n := 0
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSeccompHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), seccompHelperEnv+"=getpid")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("helper: %v\n%s", err, out)
		}
		i := bytes.Index(out, []byte("took="))
		if i < 0 {
			b.Fatalf("helper output: %s", out)
		}
		ns, _ := strconv.Atoi(strings.Fields(string(out[i+5:]))[0])
		total += time.Duration(ns)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(n), "ms-build+load")
}
