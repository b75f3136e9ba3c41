package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// dumpDir is where child.py dump writes what it received.
func dumpDir(t *testing.T) string {
	d := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func readDump(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("the child wrote no %s: %v", name, err)
	}
	return b
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
	}
}

// TestDeliveryByteExact: every secret reaches the child exactly as stored,
// by descriptor (the default) and by environment.
func TestDeliveryByteExact(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dumpDir(t)

	small := randSecret(t)
	big := randBytes(t, 1<<20)
	raw := append(randBytes(t, 300), 0, 0, 'x', 0)
	raw[7], raw[100] = 0, 0
	raw = append(raw, '\n')
	crlf := randSecret(t)
	viaEnv := randSecret(t)

	s, st := runSession(t, opts{env: []string{"NINGEN_ENV_NAMES=ENVD"}},
		"run", "--max-secret-size", "2MiB",
		"-s", "SMALL=file:"+writeSecret(t, dir, "small", small),
		"-s", "BIG=file:"+writeSecret(t, dir, "big", big),
		"-s", "RAW=file:"+writeSecret(t, dir, "raw", raw), "--raw", "RAW",
		"-s", "CRLF=file:"+writeSecret(t, dir, "crlf", append(append([]byte(nil), crlf...), '\r', '\n')),
		"-s", "ENVD=file:"+writeSecret(t, dir, "envd", viaEnv), "--env", "ENVD",
		"--", python, childPy(), "dump", out)
	wantExit(t, s, st, 0)

	t.Run("small-by-fd", func(t *testing.T) { sameBytes(t, "SMALL", readDump(t, out, "fd.SMALL"), small) })
	t.Run("1MiB-by-fd", func(t *testing.T) { sameBytes(t, "BIG", readDump(t, out, "fd.BIG"), big) })
	t.Run("raw-keeps-NULs-and-newline", func(t *testing.T) { sameBytes(t, "RAW", readDump(t, out, "fd.RAW"), raw) })
	t.Run("one-trailing-CRLF-trimmed", func(t *testing.T) { sameBytes(t, "CRLF", readDump(t, out, "fd.CRLF"), crlf) })
	t.Run("by-env", func(t *testing.T) {
		sameBytes(t, "ENVD", readDump(t, out, "env.ENVD"), viaEnv)
		if _, err := os.Stat(filepath.Join(out, "fd.ENVD")); err == nil {
			t.Error("ENVD was also delivered by descriptor")
		}
	})
	t.Run("env-delivery-warns-by-name", func(t *testing.T) {
		w := s.err.await(t, "a warning", contains("ningen: warning:"))
		if !strings.Contains(w, "ENVD") || !strings.Contains(w, "environment") {
			t.Fatalf("warning %q does not name ENVD and the environment", w)
		}
	})
	t.Run("nothing-printed", func(t *testing.T) { noLeak(t, s, small, big[:64], raw[:64], crlf, viaEnv) })
	t.Run("audit-sequence", func(t *testing.T) {
		_, wipe, exit := sequence(t, s.err.Lines())
		if n := intField(t, wipe, "bytes"); n < 1<<20 {
			t.Errorf("wipe reports %d bytes, want at least the 1 MiB secret", n)
		}
		if attr(exit, "code") != "0" {
			t.Errorf("exit line %q, want code=0", exit)
		}
	})
}

// TestDeliveryPlaceholders: {{fd:NAME}} and {{path:NAME}} in arguments name
// the delivery without its value.
func TestDeliveryPlaceholders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dumpDir(t)
	a, b := randSecret(t), randSecret(t)
	script := `cat <&$1 > "$3/a" && cat "$2" > "$3/b" && printf '%s|%s' "$1" "$2" > "$3/args" && cat /proc/self/cmdline > "$3/cmdline"`
	s, st := runSession(t, opts{}, "run",
		"-s", "A=file:"+writeSecret(t, dir, "a", a),
		"-s", "B=file:"+writeSecret(t, dir, "b", b),
		"--", "/bin/sh", "-c", script, "sh", "{{fd:A}}", "{{path:B}}", out)
	wantExit(t, s, st, 0)
	if got := string(readDump(t, out, "args")); got != "3|/dev/fd/4" {
		t.Errorf("placeholders expanded to %q, want 3|/dev/fd/4", got)
	}
	sameBytes(t, "A via {{fd:A}}", readDump(t, out, "a"), a)
	sameBytes(t, "B via {{path:B}}", readDump(t, out, "b"), b)
	if f := secretIn(readDump(t, out, "cmdline"), a, b); f != nil {
		t.Errorf("secret(s) %v in the child's argv", f)
	}
	noLeak(t, s, a, b)
}

// TestNoSecretExposed: in the default mode no secret is in any process's
// environment or argv, ningen's own included (env: sources are scrubbed
// from ningen's environment block), nor in anything ningen prints. It also
// looks at the vault's locked memory while the session runs.
func TestNoSecretExposed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dumpDir(t)
	marker := newMarker(t)
	fromFile, fromEnv, fromExec := randSecret(t), randSecret(t), randSecret(t)
	envVar := "NINGEN_E2E_SRC_" + strings.ToUpper(marker)
	execFile := writeSecret(t, dir, "exec", fromExec)
	secrets := [][]byte{fromFile, fromEnv, fromExec}

	s := start(t, opts{stdin: true, marker: marker, env: []string{envVar + "=" + string(fromEnv)}}, "run",
		"-s", "F=file:"+writeSecret(t, dir, "file", fromFile),
		"-s", "E=env:"+envVar,
		"-s", "X=exec:cat "+execFile,
		"--", python, childPy(), "dump", out, "agent", "--marker", marker)
	s.out.await(t, "the dump", hasPrefix("done"))
	s.out.await(t, "the child", hasPrefix("ready"))

	t.Run("child-got-all", func(t *testing.T) {
		sameBytes(t, "F", readDump(t, out, "fd.F"), fromFile)
		sameBytes(t, "E", readDump(t, out, "fd.E"), fromEnv)
		sameBytes(t, "X", readDump(t, out, "fd.X"), fromExec)
	})
	t.Run("child-environ", func(t *testing.T) {
		env := readDump(t, out, "environ")
		if f := secretIn(env, secrets...); f != nil {
			t.Errorf("secret(s) %v in the child's /proc/self/environ", f)
		}
		if bytes.Contains(env, []byte(envVar+"=")) {
			t.Errorf("the env: source variable %s is still in the child's environment", envVar)
		}
	})
	t.Run("child-cmdline", func(t *testing.T) {
		if f := secretIn(readDump(t, out, "cmdline"), secrets...); f != nil {
			t.Errorf("secret(s) %v in the child's /proc/self/cmdline", f)
		}
	})
	t.Run("child-printenv", func(t *testing.T) {
		if f := secretIn(readDump(t, out, "printenv"), secrets...); f != nil {
			t.Errorf("secret(s) %v in printenv's output", f)
		}
	})
	t.Run("ningen-cmdline", func(t *testing.T) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if f := secretIn(b, secrets...); f != nil {
			t.Errorf("secret(s) %v in ningen's cmdline", f)
		}
	})
	t.Run("ningen-environ", func(t *testing.T) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/environ")
		if err != nil {
			if !isRoot() && os.IsPermission(err) {
				t.Skip("needs root: ningen is not dumpable, so its /proc/PID/environ is closed to its own user")
			}
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("PATH=")) {
			t.Fatalf("ningen's environ looks empty (%d bytes): cannot judge", len(b))
		}
		if f := secretIn(b, secrets...); f != nil {
			t.Errorf("secret(s) %v in ningen's own /proc/PID/environ (index 1 is the env: source)", f)
		}
	})
	t.Run("no-other-process", func(t *testing.T) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err != nil || pid == s.pid {
				continue // ningen itself is the subtest above
			}
			for _, f := range []string{"cmdline", "environ"} {
				b, err := os.ReadFile("/proc/" + e.Name() + "/" + f)
				if err != nil {
					continue
				}
				if found := secretIn(b, secrets...); found != nil {
					t.Errorf("secret(s) %v in /proc/%s/%s", found, e.Name(), f)
				}
			}
		}
	})
	t.Run("VmLck", func(t *testing.T) {
		kb, err := vmLckKB(s.pid)
		if err != nil {
			t.Fatal(err)
		}
		if kb <= 0 {
			t.Errorf("ningen's VmLck is %d kB during the session, want > 0", kb)
		}
	})
	t.Run("smaps-lo-dd", func(t *testing.T) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/smaps")
		if err != nil {
			if !isRoot() && os.IsPermission(err) {
				t.Skip("needs root: ningen is not dumpable, so its /proc/PID/smaps is root's only")
			}
			t.Fatal(err)
		}
		if !lockedNoDumpMapping(string(b)) {
			t.Error("no mapping in ningen's smaps carries both VmFlags lo and dd")
		}
	})

	s.send("exit 0")
	wantExit(t, s, s.wait(), 0)
	s.out.awaitEOF(t)
	s.err.awaitEOF(t)
	noLeak(t, s, secrets...)
}

// lockedNoDumpMapping reports whether one mapping of an smaps file has a
// non-zero Locked: size and VmFlags with both lo (mlock) and dd (no dump).
func lockedNoDumpMapping(smaps string) bool {
	locked := false
	for _, l := range strings.Split(smaps, "\n") {
		if v, ok := strings.CutPrefix(l, "Locked:"); ok {
			locked = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) != "0"
		}
		if v, ok := strings.CutPrefix(l, "VmFlags:"); ok {
			flags := " " + v + " "
			if locked && strings.Contains(flags, " lo ") && strings.Contains(flags, " dd ") {
				return true
			}
			locked = false
		}
	}
	return false
}

// TestEnvDeliveryIsVisible: --env is the documented exposure: the value is
// in the child's environment, and ningen says so by name.
func TestEnvDeliveryIsVisible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dumpDir(t)
	v := randSecret(t)
	s, st := runSession(t, opts{}, "run", "-s", "TOKEN=file:"+writeSecret(t, dir, "t", v), "--env", "TOKEN",
		"--", python, childPy(), "dump", out)
	wantExit(t, s, st, 0)
	if !bytes.Contains(readDump(t, out, "environ"), append([]byte("TOKEN="), v...)) {
		t.Error("with --env TOKEN the value is not in the child's /proc/self/environ")
	}
	if !bytes.Contains(readDump(t, out, "printenv"), v) {
		t.Error("with --env TOKEN printenv in the child does not show it")
	}
	w := s.err.await(t, "the warning", contains("warning"))
	if !strings.Contains(w, "TOKEN") {
		t.Errorf("the warning %q does not name TOKEN", w)
	}
	noLeak(t, s, v)
}

// TestChildDescriptors: the child inherits exactly 0–2 and its deliveries,
// whatever ningen itself had open, and ningen keeps no copy of the
// child's ends.
func TestChildDescriptors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dumpDir(t)
	marker := newMarker(t)
	decoy, err := os.Create(filepath.Join(dir, "decoy-"+marker))
	if err != nil {
		t.Fatal(err)
	}
	defer decoy.Close()
	pr, pw := mustPipe(t)
	defer pr.Close()
	defer pw.Close()

	s := start(t, opts{stdin: true, marker: marker, extra: []*os.File{decoy, pw, pr}}, "run",
		"-s", "A=file:"+writeSecret(t, dir, "a", randSecret(t)),
		"-s", "B=file:"+writeSecret(t, dir, "b", randSecret(t)),
		"-s", "C=file:"+writeSecret(t, dir, "c", randSecret(t)), "--env", "C",
		"--", python, childPy(), "dump", out, "agent", "--marker", marker)
	s.out.await(t, "the dump", hasPrefix("done"))
	s.out.await(t, "the child", hasPrefix("ready"))

	lines := readLinesFile(t, filepath.Join(out, "fds"))
	var nums []string
	pipes := map[string]bool{}
	for _, l := range lines {
		num, target, _ := strings.Cut(l, " ")
		nums = append(nums, num)
		if num == "3" || num == "4" {
			if !strings.HasPrefix(target, "pipe:") {
				t.Errorf("child fd %s is %s, want a delivery pipe", num, target)
			}
			pipes[target] = true
		}
		if strings.Contains(target, "decoy") {
			t.Errorf("the child inherited ningen's decoy file as fd %s", num)
		}
	}
	if got := strings.Join(nums, ","); got != "0,1,2,3,4" {
		t.Errorf("child descriptors %s, want exactly 0,1,2,3,4 (stdio and the A and B pipes)\n%s", got, strings.Join(lines, "\n"))
	}
	t.Run("parent-keeps-no-copy", func(t *testing.T) {
		fdDir := "/proc/" + strconv.Itoa(s.pid) + "/fd"
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			if !isRoot() && os.IsPermission(err) {
				t.Skip("needs root: ningen is not dumpable, so its /proc/PID/fd is closed to its own user")
			}
			t.Fatal(err)
		}
		for _, e := range ents {
			target, err := os.Readlink(fdDir + "/" + e.Name())
			if err == nil && pipes[target] {
				t.Errorf("ningen still holds %s (fd %s) after the child read it", target, e.Name())
			}
		}
	})
	s.send("exit 0")
	wantExit(t, s, s.wait(), 0)
}
