// These tests compare Probe with what the kernel does. They cross-check
// the raw memfd_secret call against x/sys's wrapper, which exists only on
// these architectures.

//go:build linux && (amd64 || arm64 || riscv64)

package hardening

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMemfdSecretAgreesWithXSys(t *testing.T) {
	if sysMemfdSecret != unix.SYS_MEMFD_SECRET {
		t.Fatalf("sysMemfdSecret = %d, x/sys says %d", sysMemfdSecret, unix.SYS_MEMFD_SECRET)
	}
	fd, err := unix.MemfdSecret(0)
	if err == nil {
		unix.Close(fd)
	}
	got := Probe().MemfdSecret
	if got.Available != (err == nil) {
		t.Fatalf("Probe says available=%v (%s); unix.MemfdSecret(0) says %v", got.Available, got.Why, err)
	}
	if err != nil && !errors.Is(got.Err, err) {
		t.Errorf("Probe's error %v, unix.MemfdSecret's %v", got.Err, err)
	}
}

func TestProbeMatchesKernel(t *testing.T) {
	r := Probe()
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		t.Fatal(err)
	}
	if r.Memlock.Soft != rlimitBytes(rl.Cur, unix.RLIM_INFINITY) || r.Memlock.Hard != rlimitBytes(rl.Max, unix.RLIM_INFINITY) {
		t.Errorf("memlock %d/%d, getrlimit %d/%d", r.Memlock.Soft, r.Memlock.Hard, rl.Cur, rl.Max)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil || r.Kernel != unix.ByteSliceToString(u.Release[:]) || r.Kernel == "" {
		t.Errorf("kernel %q, uname %q (%v)", r.Kernel, u.Release, err)
	}
	status := readFile(t, "/proc/self/status")
	if mode, _ := statusField(status, "Seccomp"); mode != strconv.Itoa(r.Seccomp.Mode) {
		t.Errorf("seccomp mode %d, /proc/self/status says %s", r.Seccomp.Mode, mode)
	}
	if r.Cgroup.Dir != "" {
		if _, err := os.Stat(filepath.Join(r.Cgroup.Dir, "cgroup.procs")); err != nil {
			t.Errorf("cgroup dir %s: %v", r.Cgroup.Dir, err)
		}
		if werr := unix.Access(r.Cgroup.Dir, unix.W_OK); (werr == nil) != r.Cgroup.Writable {
			t.Errorf("cgroup writable=%v, access says %v", r.Cgroup.Writable, werr)
		}
	}
}

// The G1 verdict is the kernel's: where Probe says memory cannot be
// locked, mlock of one page fails, and where it says it can, it succeeds.
// Each case runs in a re-executed child: the test process keeps its limits.
func TestMemlockVerdictMatchesKernel(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		return
	}
	cases := []struct {
		name     string
		zero     bool
		asNobody bool
	}{{"as is", false, false}, {"limit 0", true, false}, {"limit 0 as nobody", true, true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.asNobody && os.Geteuid() != 0 {
				t.Skip("needs root to become nobody; the limit 0 case already ran as this user")
			}
			mode := "keep"
			if c.zero {
				mode = "zero"
			}
			out, code := reexec(t, "TestMemlockHelper", c.asNobody, helperEnv+"="+mode)
			if code != 0 {
				t.Fatalf("helper exited %d: %s", code, out)
			}
			t.Logf("helper: %s", out)
			status, mlock, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
			if !ok {
				t.Fatalf("helper said %q", out)
			}
			if (Status(status) == Holds) != (mlock == "mlock=ok") {
				t.Fatalf("Probe says %s, but the kernel's answer is %s", status, mlock)
			}
			if c.asNobody && Status(status) == Holds {
				t.Fatalf("as nobody with limit 0, Probe says %s", status)
			}
		})
	}
}

const helperEnv = "NINGEN_PROBE_HELPER"

// TestMemlockHelper is the child of TestMemlockVerdictMatchesKernel.
func TestMemlockHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper for TestMemlockVerdictMatchesKernel")
	}
	if mode == "zero" {
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{}); err != nil {
			fmt.Printf("setrlimit: %v\n", err)
			os.Exit(3)
		}
	}
	m := Probe().Memlock
	page, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		fmt.Printf("mmap: %v\n", err)
		os.Exit(3)
	}
	answer := "mlock=ok"
	if err := unix.Mlock(page); err != nil {
		answer = "mlock=" + unix.ErrnoName(err.(unix.Errno))
	}
	fmt.Printf("%s %s\n", m.Status, answer)
	os.Exit(0)
}

// reexec runs test in a fresh copy of this test binary with env added, as
// nobody when asNobody is set, and returns its stdout and stderr and its
// exit status.
func reexec(t *testing.T, test string, asNobody bool, env ...string) ([]byte, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$", "-test.count=1")
	// The race detector sleeps a second at exit unless told not to.
	cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE")), env...)
	if asNobody {
		cmd.Path, cmd.SysProcAttr = asNobodyCopy(t, exe)
		cmd.Dir = filepath.Dir(cmd.Path)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Skipf("cannot run the helper (as nobody: %v): %v", asNobody, err)
	}
	return out, cmd.ProcessState.ExitCode()
}

// asNobodyCopy copies exe where nobody may run it and returns the copy and
// the credentials to run it with.
func asNobodyCopy(t *testing.T, exe string) (string, *syscall.SysProcAttr) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to run as: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	dir, err := os.MkdirTemp("", "ningen-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "probe.test")
	if err := copyFile(dst, exe); err != nil {
		t.Fatal(err)
	}
	return dst, &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
