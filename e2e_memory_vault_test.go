//go:build linux && cgo

package main

// A secretmem vault where it cannot be: no memfd_secret in the kernel (a
// seccomp filter fakes it, hence cgo, for libseccomp as ningen itself uses
// it), no locked memory (issue 5). See e2e_memory_test.go.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// --- a vault that cannot be secretmem -----------------------------------

// helperEnv makes the test binary, re-executed, the seccomp helper below.
const helperEnv = "NINGEN_E2E_HELPER"

// TestHelperNoMemfdSecret is not a test: re-executed with helperEnv set it
// loads a seccomp filter under which memfd_secret fails with ENOSYS, as on
// a kernel without it, and execs ningen with the arguments after --. The
// filter is stacked under ningen's own, which ningen loads later.
func TestHelperNoMemfdSecret(t *testing.T) {
	if os.Getenv(helperEnv) != "no-memfd-secret" {
		t.Skip("a helper process, run by TestNoSecretMemKernel")
	}
	runtime.LockOSThread() // the filter is this thread's; exec keeps it
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		helperFail("seccomp filter: %v", err)
	}
	call, err := seccomp.GetSyscallFromName("memfd_secret")
	if err != nil {
		call = seccomp.ScmpSyscall(unix.SYS_MEMFD_SECRET)
	}
	if err := f.AddRule(call, seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		helperFail("seccomp rule: %v", err)
	}
	if err := f.SetNoNewPrivsBit(true); err != nil {
		helperFail("no_new_privs: %v", err)
	}
	if err := f.Load(); err != nil {
		helperFail("load the filter: %v", err)
	}
	if fd, err := unix.MemfdSecret(0); !errors.Is(err, unix.ENOSYS) {
		helperFail("memfd_secret under the filter: fd %d, %v; want ENOSYS", fd, err)
	}
	argv := append([]string{ningenBin}, flag.Args()...)
	err = syscall.Exec(ningenBin, argv, slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, helperEnv+"=") }))
	helperFail("exec %s: %v", ningenBin, err)
}

// helperFail ends the helper with a status no ningen run gives here.
func helperFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "helper: "+format+"\n", args...)
	os.Exit(99)
}

// underNoMemfdSecret is the argv that runs ningen args... through the helper.
func underNoMemfdSecret(t *testing.T, args ...string) (argv, env []string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv = append([]string{self, "-test.run=^TestHelperNoMemfdSecret$", "--"}, args...)
	// The helper's TestMain makes a fixture directory it cannot remove (it
	// execs): put it in this test's.
	return argv, []string{helperEnv + "=no-memfd-secret", "NINGEN_E2E_BIN=" + ningenBin, "TMPDIR=" + t.TempDir()}
}

// TestNoSecretMemKernel: where the kernel has no memfd_secret (simulated:
// the system call fails with ENOSYS), --vault secretmem refuses to start
// with exit 125 and says why, --vault auto falls back to the locked vault
// and says so on the start line, and ningen check says G7 does not hold.
func TestNoSecretMemKernel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	v := memSecret(t)
	secretFile := writeSecret(t, dir, "a", v)
	t.Run("secretmem-fails-closed", func(t *testing.T) {
		t.Parallel()
		started := filepath.Join(t.TempDir(), "started")
		argv, env := underNoMemfdSecret(t, "run", "--vault", "secretmem", "-s", "A=file:"+secretFile, "--", "touch", started)
		s := startCmd(t, opts{env: env}, argv...)
		st := s.wait()
		s.err.awaitEOF(t)
		wantExit(t, s, st, 125)
		fileMustNotExist(t, started)
		stderr := string(s.err.Bytes())
		if !strings.Contains(stderr, "ningen: ") || !strings.Contains(stderr, "memfd_secret") {
			t.Errorf("stderr does not name memfd_secret:\n%s", stderr)
		}
		if n := len(audits(s.err.Lines())); n != 0 {
			t.Errorf("%d audit lines for a session that never started:\n%s", n, stderr)
		}
		noLeak(t, s, v)
	})
	t.Run("auto-falls-back-to-locked", func(t *testing.T) {
		t.Parallel()
		argv, env := underNoMemfdSecret(t, "run", "--vault", "auto", "-s", "A=file:"+secretFile, "--", "true")
		s := startCmd(t, opts{env: env}, argv...)
		st := s.wait()
		s.err.awaitEOF(t)
		wantExit(t, s, st, 0)
		line := s.err.await(t, "the start line", contains("event=start"))
		if attr(line, "vault") != "locked" {
			t.Errorf("start line %q, want vault=locked", line)
		}
		if attr(line, "locked") == "0" {
			t.Errorf("start line %q: nothing locked", line)
		}
		noLeak(t, s, v)
	})
	t.Run("secretmem-delivery-fails", func(t *testing.T) {
		t.Parallel()
		started := filepath.Join(t.TempDir(), "started")
		argv, env := underNoMemfdSecret(t, "run", "--deliver", "secretmem", "-s", "A=file:"+secretFile, "--", "touch", started)
		s := startCmd(t, opts{env: env}, argv...)
		st := s.wait()
		s.err.awaitEOF(t)
		wantExit(t, s, st, 125)
		fileMustNotExist(t, started)
		if stderr := string(s.err.Bytes()); !strings.Contains(stderr, "memfd_secret") {
			t.Errorf("stderr does not name memfd_secret:\n%s", stderr)
		}
		noLeak(t, s, v)
	})
	t.Run("check-says-so", func(t *testing.T) {
		t.Parallel()
		argv, env := underNoMemfdSecret(t, "check", "--json")
		s := startCmd(t, opts{env: env}, argv...)
		st := s.wait()
		s.out.awaitEOF(t)
		if st.code != 0 && st.code != exitCheckFailed {
			t.Fatalf("ningen check: %v\n%s", st, s.err.dump())
		}
		var rep struct {
			MemfdSecret struct {
				Status    string `json:"status"`
				Available bool   `json:"available"`
			} `json:"memfd_secret"`
		}
		if err := json.Unmarshal(s.out.Bytes(), &rep); err != nil {
			t.Fatalf("ningen check --json: %v\n%s", err, s.out.dump())
		}
		if rep.MemfdSecret.Available || rep.MemfdSecret.Status == "ok" {
			t.Errorf("ningen check under the filter: memfd_secret %+v, want unavailable", rep.MemfdSecret)
		}
	})
}

// TestSecretMemVaultMemlock: memfd_secret pages count against
// RLIMIT_MEMLOCK, so with no locked memory allowed the secretmem vault
// refuses to start, and so does auto (locked memory would fail the same
// way), each naming the limit it hit and how to raise it.
func TestSecretMemVaultMemlock(t *testing.T) {
	needSecretMem(t)
	t.Parallel()
	dir := t.TempDir()
	v := memSecret(t)
	secretFile := writeSecret(t, dir, "a", v)
	for _, backing := range []string{"secretmem", "auto"} {
		t.Run(backing, func(t *testing.T) {
			t.Parallel()
			started := filepath.Join(t.TempDir(), "started")
			prefix := append(prlimit(t, "0:0"), noIPCLock(t)...)
			s, st := runSession(t, opts{prefix: prefix}, "run", "--vault", backing, "-s", "A=file:"+secretFile, "--", "touch", started)
			if isRoot() && st.code == 0 {
				t.Skip("needs a user without CAP_IPC_LOCK: setpriv could not drop it here")
			}
			wantExit(t, s, st, 125)
			fileMustNotExist(t, started)
			stderr := string(s.err.Bytes())
			for _, w := range []string{"memfd_secret", "RLIMIT_MEMLOCK", "limit 0 bytes", "ulimit -l"} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q (what failed, the limit, how to raise it):\n%s", w, stderr)
				}
			}
			noLeak(t, s, v)
		})
	}
}
