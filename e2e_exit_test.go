package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ningen-shikkaku/ningen/launcher"
	"golang.org/x/sys/unix"
)

// TestExitCodes: the child's status comes back; a signal that killed it is
// 128+N, never Go's -1 as 255; exec failures are 126 and 127.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\ntrue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"exit-0", []string{"true"}, 0},
		{"exit-7", []string{"/bin/sh", "-c", "exit 7"}, 7},
		{"exit-42", []string{"/bin/sh", "-c", "exit 42"}, 42},
		{"false", []string{"false"}, 1},
		{"killed-by-TERM", []string{"/bin/sh", "-c", "kill -TERM $$"}, 143},
		{"killed-by-KILL", []string{"/bin/sh", "-c", "kill -KILL $$"}, 137},
		{"killed-by-SEGV", []string{"/bin/sh", "-c", "kill -SEGV $$"}, 139},
		{"not-found", []string{"ningen-e2e-no-such-command-" + newMarker(t)}, 127},
		{"not-found-path", []string{filepath.Join(dir, "missing")}, 127},
		{"not-executable", []string{notExec}, 126},
		{"directory", []string{dir}, 126},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, st := runSession(t, opts{}, append([]string{"run", "--"}, c.args...)...)
			wantExit(t, s, st, c.code)
			if c.code >= 126 && c.code <= 127 {
				if n := len(audits(s.err.Lines())); n != 0 {
					t.Errorf("%d audit lines for a command that never started", n)
				}
				return
			}
			_, _, exit := sequence(t, s.err.Lines())
			if attr(exit, "code") != strconv.Itoa(c.code) {
				t.Errorf("exit audit line %q, want code=%d", exit, c.code)
			}
		})
	}
}

// TestTTL: --ttl ends the session with 124 and the child dead.
func TestTTL(t *testing.T) {
	t.Parallel()
	dur := "60." + randDigits(t, 9) // the sleep's own marker
	s, st := runSession(t, opts{}, "run", "--ttl", "1s", "--", "sleep", dur)
	wantExit(t, s, st, 124)
	start := s.err.await(t, "the start line", contains("event=start"))
	awaitDead(t, intField(t, start, "child"), dur, "the sleep")
	kill, _, _ := sequence(t, s.err.Lines())
	if attr(kill, "trigger") != "ttl" {
		t.Errorf("kill line %q, want trigger=ttl", kill)
	}
}

// TestUsageErrors: a bad command line exits 2 and starts nothing.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"bad-spec", []string{"-s", "nonsense"}},
		{"bad-name", []string{"-s", "9X=file:/etc/hostname"}},
		{"unknown-source", []string{"-s", "A=vault:x"}},
		{"unknown-flag", []string{"--no-such-flag"}},
		{"duplicate-secret", []string{"-s", "A=file:/etc/hostname", "-s", "A=file:/etc/hostname"}},
		{"raw-unknown", []string{"-s", "A=file:/etc/hostname", "--raw", "B"}},
		{"env-unknown", []string{"-s", "A=file:/etc/hostname", "--env", "B"}},
		{"bad-deliver", []string{"-s", "A=file:/etc/hostname", "--deliver", "carrier-pigeon"}},
		{"bad-ttl", []string{"--ttl", "soon"}},
		{"bad-size", []string{"--max-secret-size", "lots"}},
		{"two-stdin", []string{"-s", "A=stdin", "-s", "B=stdin"}},
		{"placeholder-unknown", []string{"-s", "A=file:/etc/hostname"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			flag := filepath.Join(t.TempDir(), "started")
			cmd := []string{"touch", flag}
			if c.name == "placeholder-unknown" {
				cmd = append(cmd, "{{fd:NOPE}}")
			}
			args := append(append(append([]string{"run"}, c.args...), "--"), cmd...)
			s, st := runSession(t, opts{}, args...)
			wantExit(t, s, st, 2)
			fileMustNotExist(t, flag)
			if n := len(audits(s.err.Lines())); n != 0 {
				t.Errorf("%d audit lines after a usage error", n)
			}
		})
	}
	t.Run("no-command", func(t *testing.T) {
		t.Parallel()
		s, st := runSession(t, opts{}, "run", "-s", "A=file:/etc/hostname")
		wantExit(t, s, st, 2)
	})
}

// TestSlipsNeverShowValue: a value typed where a name belongs (env:$TOKEN
// for env:TOKEN, --env $TOKEN, a pasted value taken for a flag) ends the
// run before anything starts, and the error does not repeat it.
func TestSlipsNeverShowValue(t *testing.T) {
	t.Parallel()
	value := "tok_" + string(randSecret(t)) + "Zq"
	known := "A=file:/etc/hostname"
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"env-source", []string{"-s", "A=env:" + value}, 125},
		{"env-flag", []string{"-s", known, "--env", value}, 2},
		{"raw-flag", []string{"-s", known, "--raw", value}, 2},
		{"deliver-name", []string{"-s", known, "--deliver", value + "=fd"}, 2},
		{"deliver-mode", []string{"-s", known, "--deliver", "A=" + value}, 2},
		{"deliver-default", []string{"-s", known, "--deliver", value}, 2},
		{"as-flag", []string{"-s", known, "--" + value}, 2},
		{"as-spec", []string{"-s", value}, 2},
		{"as-spec-padded", []string{"-s", value + "=="}, 2}, // base64: a name-shaped value, then '='
		{"as-flag-padded", []string{"-s", known, "--" + value + "=="}, 2},
		{"as-flag-prefixed-padded", []string{"-s", known, "--x" + value + "=="}, 2},
		{"env-source-dashed", []string{"-s", "A=env:sk-" + value}, 2},
		{"fd-source", []string{"-s", "A=fd:" + value}, 2},
		{"stdin-source", []string{"-s", "A=stdin:" + value}, 2},
		{"as-duration", []string{"--ttl=" + value}, 2},
		{"as-command", []string{"-s", known, value}, 2}, // before --: it would be run, and named
		{"as-command-no-dashes", []string{"-s", known, "--quiet", value}, 2},
		{"as-bool", []string{"--quiet=" + value}, 2}, // kong quotes it lowercased
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			flag := filepath.Join(t.TempDir(), "started")
			args := append(append(append([]string{"run"}, c.args...), "--"), "touch", flag)
			s, st := runSession(t, opts{}, args...)
			wantExit(t, s, st, c.code)
			fileMustNotExist(t, flag)
			noLeak(t, s, []byte(value), []byte(strings.ToLower(value)))
		})
	}
	t.Run("as-duration-unit", func(t *testing.T) {
		// Go's duration error quotes the unit, the letters after a number,
		// up to the next digit: a value of letters after a digit is quoted
		// whole.
		t.Parallel()
		letters := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return 'g' + (r - '0')
			}
			return r
		}, value)
		s, st := runSession(t, opts{}, "run", "--grace", "5"+letters, "--", "true")
		wantExit(t, s, st, 2)
		noLeak(t, s, []byte(letters), []byte(strings.ToLower(letters)))
	})
	t.Run("as-placeholder", func(t *testing.T) {
		t.Parallel()
		flag := filepath.Join(t.TempDir(), "started")
		s, st := runSession(t, opts{}, "run", "-s", known, "--", "touch", flag, "{{fd:"+value+"}}")
		wantExit(t, s, st, 2)
		fileMustNotExist(t, flag)
		noLeak(t, s, []byte(value), []byte(strings.ToLower(value)))
	})
	t.Run("as-argument", func(t *testing.T) {
		t.Parallel()
		s, st := runSession(t, opts{}, value)
		wantExit(t, s, st, 2)
		noLeak(t, s, []byte(value), []byte(strings.ToLower(value)))
	})
}

// TestTrackCgroupUnavailable: --track cgroup where no cgroup v2 group is
// writable exits 125 before the command starts, and says how to do
// without. It runs in the unprivileged pass of scripts/test.sh.
func TestTrackCgroupUnavailable(t *testing.T) {
	t.Parallel()
	if dir, err := launcher.Cgroup2Dir(); err == nil && unix.Access(dir, unix.W_OK) == nil {
		t.Skipf("needs a host where no cgroup v2 group is writable (%s is): run as an unprivileged user", dir)
	}
	flag := filepath.Join(t.TempDir(), "started")
	s, st := runSession(t, opts{}, "run", "--track", "cgroup", "--", "touch", flag)
	wantExit(t, s, st, 125)
	fileMustNotExist(t, flag)
	stderr := strings.Join(s.err.Lines(), "\n")
	for _, want := range []string{"cgroup tracking", "hint:", "--track auto"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestSetupFailures: a source that fails, or memory that cannot be locked,
// exits 125 before the child starts, and never shows a value.
func TestSetupFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := randSecret(t)
	secretFile := writeSecret(t, dir, "secret", secret)
	empty := writeSecret(t, dir, "empty", nil)
	tooBig := writeSecret(t, dir, "big", randBytes(t, 64<<10+10))
	for _, c := range []struct {
		name, spec string
		extra      []string
		want       []string // in stderr
	}{
		{"exec-exit-3", "A=exec:exit 3", nil, []string{"secret A", "status 3"}},
		{"exec-prints-value-then-fails", "A=exec:cat " + secretFile + "; exit 3", nil, []string{"secret A"}},
		{"exec-timeout", "A=exec:sleep 30", []string{"--exec-timeout", "200ms"}, []string{"secret A", "timed out"}},
		{"missing-file", "A=file:" + filepath.Join(dir, "missing"), nil, []string{"secret A"}},
		{"empty-file", "A=file:" + empty, nil, []string{"secret A", "empty"}},
		{"too-large", "A=file:" + tooBig, nil, []string{"secret A", "larger", "--max-secret-size raises"}},
		{"exec-too-large", "A=exec:head -c 70000 /dev/zero", nil, []string{"secret A", "larger", "--max-secret-size raises"}},
		{"unset-env", "A=env:NINGEN_E2E_UNSET_" + strings.ToUpper(newMarker(t)), nil, []string{"secret A", "from env:", "no variable"}},
		{"closed-fd", "A=fd:77", nil, []string{"secret A", "77"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			flag := filepath.Join(t.TempDir(), "started")
			args := append(append([]string{"run", "-s", c.spec}, c.extra...), "--", "touch", flag)
			s, st := runSession(t, opts{}, args...)
			wantExit(t, s, st, 125)
			fileMustNotExist(t, flag)
			stderr := string(s.err.Bytes())
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if n := len(audits(s.err.Lines())); n != 0 {
				t.Errorf("%d audit lines for a session that never started", n)
			}
			noLeak(t, s, secret)
		})
	}
}

// noIPCLock is the prefix that takes CAP_IPC_LOCK away from ningen when the
// test runs as root, so that RLIMIT_MEMLOCK applies to it.
func noIPCLock(t *testing.T) []string { return withoutCap(t, "ipc_lock") }

// withoutCap is the prefix that runs ningen without capability name when
// the test runs as root (setpriv drops it from the bounding set, so the
// exec'd ningen never has it); nothing for other users, who lack it anyway.
func withoutCap(t *testing.T, name string) []string {
	if !isRoot() {
		return nil
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skipf("needs root without CAP_%s: setpriv is not installed to drop it", strings.ToUpper(name))
	}
	return []string{"setpriv", "--inh-caps=-all", "--bounding-set=-" + name}
}

func prlimit(t *testing.T, memlock string) []string {
	p, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	return []string{p, "--memlock=" + memlock}
}

// TestMemlockZero: with no locked memory allowed ningen refuses to start
// and says what it needed, the limit and how to raise it (G1): with ulimit
// -l while the hard limit allows, as root when it does not.
func TestMemlockZero(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		limits string
		advice string
	}{
		{"0:1048576", "ulimit -l 4,"},
		{"0:0", "the hard locked-memory limit (0 KiB) is below the 4 KiB needed"},
	} {
		t.Run(c.limits, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			flag := filepath.Join(dir, "started")
			prefix := append(prlimit(t, c.limits), noIPCLock(t)...)
			s, st := runSession(t, opts{prefix: prefix}, "run", "-s", "A=file:"+writeSecret(t, dir, "a", randSecret(t)),
				"--", "touch", flag)
			if isRoot() && st.code == 0 {
				t.Skip("needs a user without CAP_IPC_LOCK: setpriv could not drop it here")
			}
			wantExit(t, s, st, 125)
			fileMustNotExist(t, flag)
			stderr := string(s.err.Bytes())
			for _, w := range []string{"4096 bytes", "limit 0 bytes", c.advice} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q (bytes needed, the limit, how to raise it):\n%s", w, stderr)
				}
			}
		})
	}
}

// TestFiftySecretsIn64KiB: many small secrets pack into shared locked
// pages, so fifty fit under a 64 KiB locked-memory limit.
func TestFiftySecretsIn64KiB(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dumpDir(t)
	prefix := append(prlimit(t, "65536:65536"), noIPCLock(t)...)
	args := []string{"run"}
	values := map[string][]byte{}
	for i := range 50 {
		name := "S" + strconv.Itoa(i)
		values[name] = randSecret(t)
		args = append(args, "-s", name+"=file:"+writeSecret(t, dir, name, values[name]))
	}
	args = append(args, "--", python, childPy(), "dump", out)
	s, st := runSession(t, opts{prefix: prefix}, args...)
	wantExit(t, s, st, 0)
	for name, v := range values {
		sameBytes(t, name, readDump(t, out, "fd."+name), v)
	}
	startLine := s.err.await(t, "the start line", contains("event=start"))
	if locked := intField(t, startLine, "locked"); locked > 65536 {
		t.Errorf("locked=%d bytes for fifty 48-byte secrets", locked)
	}
}

// TestStalledDeliveryKeepsTTL: a big secret the child never reads must not
// hold up the sequence: the supervisor never blocks in a write.
func TestStalledDeliveryKeepsTTL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dur := "60." + randDigits(t, 9)
	// Larger than a pipe may grow without CAP_SYS_RESOURCE (pipe-max-size
	// is 1 MiB by default), so the writer waits on a reader that never
	// comes. Root keeps the capability unless it is dropped.
	big := writeSecret(t, dir, "big", randBytes(t, 1<<20+1<<19))
	began := time.Now()
	s, st := runSession(t, opts{prefix: withoutCap(t, "sys_resource")}, "run", "--max-secret-size", "2MiB", "--ttl", "2s", "-s", "BIG=file:"+big, "--", "sleep", dur)
	wantExit(t, s, st, 124)
	t.Logf("ended %s after start", time.Since(began).Round(time.Millisecond))
	_, wipe, _ := sequence(t, s.err.Lines())
	if attr(wipe, "error") != "" {
		t.Errorf("wipe line reports an error: %q", wipe)
	}
	if n := intField(t, wipe, "bytes"); n < 1<<20+1<<19 {
		t.Errorf("wipe line reports %d bytes, want at least the stalled secret's", n)
	}
}

// TestFDSourceNotInherited: fd:N names a descriptor ningen inherited, and
// nothing else. For every low number the test itself does not pass on
// (ningen's own descriptors take such numbers: the poller, the cgroup,
// pidfds) the session is refused at once, exit 2 or 125 with the number
// named; it never reads, or waits on, a descriptor of ningen's own.
func TestFDSourceNotInherited(t *testing.T) {
	t.Parallel()
	for fd := 3; fd <= 16; fd++ {
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			continue // the test was given it and passes it on: ningen does inherit it
		}
		n := strconv.Itoa(fd)
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			flag := filepath.Join(t.TempDir(), "started")
			s, st := runSession(t, opts{}, "run", "-s", "A=fd:"+n, "--", "touch", flag)
			if st.code != 2 && st.code != 125 {
				t.Errorf("ningen: %v, want exit 2 or 125\n%s", st, s.err.dump())
			}
			fileMustNotExist(t, flag)
			stderr := string(s.err.Bytes())
			if !strings.Contains(stderr, "descriptor "+n+" is not open") && !strings.Contains(stderr, "descriptor "+n+" was not inherited") {
				t.Errorf("stderr does not say descriptor %s is not ningen's to read:\n%s", n, stderr)
			}
		})
	}
}

// TestShortFlagClusterNotShown: kong names the first unknown letter of a
// cluster of short flags; from a cluster that looks like a pasted value
// ("-SECRET…", "-qSECRET…") that letter is the value's, and is not shown.
// A short mistyped flag still is.
func TestShortFlagClusterNotShown(t *testing.T) {
	t.Parallel()
	value := "Zq" + string(randSecret(t))
	for _, arg := range []string{"-" + value, "-q" + value} {
		s, st := runSession(t, opts{}, "run", arg, "--", "true")
		wantExit(t, s, st, 2)
		if err := strings.Join(s.err.Lines(), "\n"); strings.Contains(err, "-Z") || strings.Contains(err, value) {
			t.Errorf("%q: stderr shows the cluster's letter:\n%s", arg, err)
		}
	}
	s, st := runSession(t, opts{}, "run", "-x", "--", "true")
	wantExit(t, s, st, 2)
	if err := strings.Join(s.err.Lines(), "\n"); !strings.Contains(err, "unknown flag -x") {
		t.Errorf("-x: stderr does not name the mistyped flag:\n%s", err)
	}
}
