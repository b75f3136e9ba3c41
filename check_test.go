package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ningen-shikkaku/ningen/hardening"
	"github.com/ningen-shikkaku/ningen/launcher"
	"golang.org/x/sys/unix"
)

// checkKeys is every key `ningen check --json` promises, nested ones as
// "item.key".
var checkKeys = []string{
	"os", "arch", "kernel",
	"memlock.status", "memlock.why", "memlock.soft_bytes", "memlock.hard_bytes", "memlock.cap_ipc_lock",
	"memfd_secret.status", "memfd_secret.why", "memfd_secret.available",
	"seccomp.status", "seccomp.why", "seccomp.now", "seccomp.kill_process", "seccomp.libseccomp",
	"cgroup.status", "cgroup.why", "cgroup.mount", "cgroup.group", "cgroup.dir", "cgroup.writable", "cgroup.cgroup_kill",
	"swap.status", "swap.why", "swap.devices", "swap.size_bytes",
	"init_on_free.status", "init_on_free.why", "init_on_free.cmdline",
	"ptrace_scope.status", "ptrace_scope.why", "ptrace_scope.scope",
	"core_pattern.status", "core_pattern.why", "core_pattern.pattern", "core_pattern.pipe",
	"tracking.mode", "tracking.why",
	"guarantees.G1", "guarantees.G4",
	"ok",
}

func checkJSON(t *testing.T, out []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return m
}

// lookup finds "a.b" in decoded JSON.
func lookup(m map[string]any, key string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(key, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func TestCheckJSONHasEveryKey(t *testing.T) {
	var b bytes.Buffer
	if err := newCheckReport(hardening.Probe()).write(&b, true); err != nil {
		t.Fatal(err)
	}
	m := checkJSON(t, b.Bytes())
	for _, k := range checkKeys {
		if _, ok := lookup(m, k); !ok {
			t.Errorf("--json has no %s", k)
		}
	}
	for _, g := range []string{"G1", "G4"} {
		for _, k := range []string{"holds", "why"} {
			if _, ok := lookup(m, "guarantees."+g+"."+k); !ok {
				t.Errorf("--json has no guarantees.%s.%s", g, k)
			}
		}
	}
	for _, item := range []string{"memlock", "memfd_secret", "seccomp", "cgroup", "swap", "init_on_free", "ptrace_scope", "core_pattern"} {
		s, _ := lookup(m, item+".status")
		switch s {
		case "ok", "no", "unknown", "unsupported":
		default:
			t.Errorf("%s.status = %v, not one of ok, no, unknown, unsupported", item, s)
		}
	}
}

func TestCheckMemlockMatchesGetrlimit(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		t.Fatal(err)
	}
	want := func(v uint64) float64 {
		if v == uint64(unix.RLIM_INFINITY) {
			return -1
		}
		return float64(v)
	}
	var b bytes.Buffer
	if err := newCheckReport(hardening.Probe()).write(&b, true); err != nil {
		t.Fatal(err)
	}
	m := checkJSON(t, b.Bytes())
	soft, _ := lookup(m, "memlock.soft_bytes")
	hard, _ := lookup(m, "memlock.hard_bytes")
	if soft != want(uint64(rl.Cur)) || hard != want(uint64(rl.Max)) {
		t.Errorf("check says memlock %v/%v, getrlimit %d/%d", soft, hard, rl.Cur, rl.Max)
	}
}

func TestCheckTextHasEveryLine(t *testing.T) {
	text := newCheckReport(hardening.Probe()).text()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "ningen check: "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("first line %q", lines[0])
	}
	for _, key := range []string{"memlock", "memfd_secret", "seccomp", "cgroup", "swap", "init_on_free", "ptrace_scope", "core_pattern", "tracking"} {
		n := 0
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 2 && f[1] == key {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines for %s, want 1:\n%s", n, key, text)
		}
	}
	for _, g := range []string{"G1", "G4"} {
		if !strings.Contains(text, "\n"+g+" can hold") && !strings.Contains(text, "\n"+g+" cannot hold") {
			t.Errorf("no verdict on %s:\n%s", g, text)
		}
	}
}

// The tracking line names the mode run --track auto would pick here.
func TestCheckTracking(t *testing.T) {
	r := hardening.Probe()
	got := newCheckReport(r).Tracking.Mode
	want := "process-group"
	if runtime.GOOS == "linux" {
		want = string(launcher.TrackSubreaper)
		if r.Cgroup.Writable && r.Cgroup.CgroupKill {
			want = string(launcher.TrackCgroup)
		}
	}
	if got != want {
		t.Errorf("tracking %q, want %q (cgroup: %s)", got, want, r.Cgroup.Why)
	}
}

// check --seccomp prints the policy and exits 1 exactly when G4 cannot hold.
func TestCheckSeccompPolicy(t *testing.T) {
	out, code := reexecCheck(t, "keep", false, "check", "--seccomp", "--json")
	m := checkJSON(t, out)
	for _, k := range []string{"arch", "support", "policy", "never"} {
		if _, ok := m[k]; !ok {
			t.Errorf("check --seccomp --json has no %s", k)
		}
	}
	g4 := newCheckReport(hardening.Probe()).Guarantees["G4"]
	if (code == 0) != g4.Holds {
		t.Errorf("check --seccomp exits %d, but G4 holds is %v (%s)", code, g4.Holds, g4.Why)
	}
}

// The exit status is the report's: run in a child as it is, `ningen check`
// exits 0 exactly when the report says ok.
func TestCheckExitMatchesReport(t *testing.T) {
	out, code := reexecCheck(t, "keep", false, "check", "--json")
	ok, _ := lookup(checkJSON(t, out), "ok")
	if (code == 0) != (ok == true) || code != 0 && code != exitCheckFailed {
		t.Fatalf("exit %d with ok=%v", code, ok)
	}
}

// With no locked memory at all and no CAP_IPC_LOCK, G1 cannot hold: the
// check says so and exits 1. As root, the child runs as nobody, which has
// no capabilities.
func TestCheckFailsWithoutLockedMemory(t *testing.T) {
	asNobody := os.Geteuid() == 0
	if !asNobody && capIPCLock(t) {
		t.Skip("CAP_IPC_LOCK is effective without root: G1 holds with any limit")
	}
	out, code := reexecCheck(t, "zero", asNobody, "check")
	if code != exitCheckFailed || !strings.Contains(string(out), "\nG1 cannot hold on this host: soft 0 bytes") {
		t.Fatalf("exit %d, want %d naming G1:\n%s", code, exitCheckFailed, out)
	}
	out, code = reexecCheck(t, "zero", asNobody, "check", "--json")
	m := checkJSON(t, out)
	g1, _ := lookup(m, "guarantees.G1.holds")
	soft, _ := lookup(m, "memlock.soft_bytes")
	capLock, _ := lookup(m, "memlock.cap_ipc_lock")
	if code != exitCheckFailed || g1 != false || soft != 0.0 || capLock != false {
		t.Fatalf("--json: exit %d, G1 holds %v, soft %v, cap_ipc_lock %v", code, g1, soft, capLock)
	}
}

// With CAP_IPC_LOCK the limit does not apply: G1 holds even at 0.
func TestCheckLimitZeroWithCapIPCLock(t *testing.T) {
	if !capIPCLock(t) {
		t.Skip("needs CAP_IPC_LOCK")
	}
	out, _ := reexecCheck(t, "zero", false, "check", "--json")
	m := checkJSON(t, out)
	if g1, _ := lookup(m, "guarantees.G1.holds"); g1 != true {
		why, _ := lookup(m, "memlock.why")
		t.Fatalf("G1 does not hold with CAP_IPC_LOCK: %v", why)
	}
}

// capIPCLock reads CAP_IPC_LOCK from this process's CapEff, independently
// of the code under test.
func capIPCLock(t *testing.T) bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		return false
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask&(1<<14) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

const checkHelperEnv = "NINGEN_CHECK_HELPER"

// TestCheckHelper is the child of the tests above: it sets the memlock
// limit to 0 when asked, then runs ningen with the arguments it was given
// after "--", and exits with ningen's status.
func TestCheckHelper(t *testing.T) {
	mode := os.Getenv(checkHelperEnv)
	if mode == "" {
		t.Skip("helper for the check tests")
	}
	if mode == "zero" {
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{}); err != nil {
			os.Stderr.WriteString("setrlimit: " + err.Error() + "\n")
			os.Exit(3)
		}
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args))
}

// reexecCheck runs ningen with args in a re-executed child of the test
// binary (as nobody when asNobody is set) and returns its stdout and exit
// status.
func reexecCheck(t *testing.T, mode string, asNobody bool, args ...string) ([]byte, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"-test.run=^TestCheckHelper$", "-test.count=1", "--"}, args...)...)
	// The race detector sleeps a second at exit unless told not to, and
	// NINGEN_E2E_BIN spares the child TestMain's go build (e2e_test.go).
	// The helper's TestMain makes a fixture directory it cannot remove (the
	// helper exits from inside a test): put it where this test cleans up.
	tmp, err := os.MkdirTemp("", "ningen-check-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o777); err != nil { // for nobody too
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), checkHelperEnv+"="+mode, "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"),
		"NINGEN_E2E_BIN="+exe, "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if asNobody {
		cmd.Path, cmd.SysProcAttr = nobodyCopy(t, exe)
		cmd.Dir = filepath.Dir(cmd.Path)
	}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Skipf("cannot run the helper (as nobody: %v): %v", asNobody, err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != exitCheckFailed {
		t.Fatalf("helper exited %d: %s%s", code, out, stderr.Bytes())
	}
	return out, cmd.ProcessState.ExitCode()
}

// nobodyCopy copies exe where nobody may run it and returns the copy and
// the credentials to run it with.
func nobodyCopy(t *testing.T, exe string) (string, *syscall.SysProcAttr) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to run as: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	dir, err := os.MkdirTemp("", "ningen-check-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "ningen.test")
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst, &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
}
