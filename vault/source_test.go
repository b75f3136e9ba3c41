//go:build linux

package vault_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/ningen-shikkaku/ningen/vault"
)

// randBytes returns n random bytes that do not end in a newline.
func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if n > 0 && (b[n-1] == '\n' || b[n-1] == '\r') {
		b[n-1] = 'x'
	}
	return b
}

// randText returns a printable random value, so that a test can look for
// it in an error message or a terminal.
func randText(t testing.TB, n int) string {
	t.Helper()
	return hex.EncodeToString(randBytes(t, (n+1)/2))[:n]
}

// randVar returns the name of an environment variable no one else uses.
func randVar(t testing.TB) string {
	return "NINGEN_TEST_" + strings.ToUpper(randText(t, 12))
}

// needLock skips a test that needs n bytes of locked memory where an
// unprivileged process cannot have them.
func needLock(t testing.TB, n int) {
	t.Helper()
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur == unix.RLIM_INFINITY || rl.Cur >= uint64(n) {
		return
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if h, ok := strings.CutPrefix(line, "CapEff:"); ok {
			if caps, err := strconv.ParseUint(strings.TrimSpace(h), 16, 64); err == nil && caps&(1<<unix.CAP_IPC_LOCK) != 0 {
				return
			}
		}
	}
	t.Skipf("needs %d bytes of locked memory: RLIMIT_MEMLOCK is %d and there is no CAP_IPC_LOCK (raise ulimit -l)", n, rl.Cur)
}

func newVault(t testing.TB) *vault.Vault {
	v := vault.New()
	t.Cleanup(func() {
		if _, err := v.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return v
}

func source(t testing.TB, s string) vault.Source {
	t.Helper()
	src, err := vault.ParseSource(s)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func value(t testing.TB, v *vault.Vault, s *vault.Secret) []byte {
	t.Helper()
	var got []byte
	if err := v.View(s, func(b []byte) { got = bytes.Clone(b) }); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkSourceError checks that err is a SourceError naming the secret and
// its source, and that its message names them but never shows secret.
func checkSourceError(t testing.TB, err error, name string, src vault.Source, secret string) {
	t.Helper()
	var se *vault.SourceError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *vault.SourceError", err, err)
	}
	if se.Name != name || se.Source != src {
		t.Errorf("SourceError names %s from %s, want %s from %s", se.Name, se.Source, name, src)
	}
	msg := err.Error()
	if !strings.Contains(msg, name) || !strings.Contains(msg, src.String()) {
		t.Errorf("error %q does not name secret %s and source %s", msg, name, src)
	}
	if secret != "" && strings.Contains(msg, secret) {
		t.Errorf("error message shows the secret value: %q", msg)
	}
}

func writeFile(t testing.TB, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestFileSource(t *testing.T) {
	if vault.DefaultMaxSize != 64<<10 {
		t.Errorf("DefaultMaxSize = %d, want 64 KiB (SPEC §3)", vault.DefaultMaxSize)
	}
	text := []byte(randText(t, 40))
	bin := randBytes(t, 300)
	atMax := randBytes(t, 1000)
	atDefault := randBytes(t, 64<<10)
	nl, crlf := []byte("\n"), []byte("\r\n")
	for _, tc := range []struct {
		name    string
		content []byte
		opts    vault.LoadOptions
		want    []byte // nil: an error is expected
		err     error
	}{
		{name: "whole file", content: bin, want: bin},
		{name: "trailing LF trimmed", content: cat(text, nl), want: text},
		{name: "trailing CRLF trimmed", content: cat(text, crlf), want: text},
		{name: "only one newline trimmed", content: cat(text, nl, nl), want: cat(text, nl)},
		{name: "lone CR kept", content: cat(text, []byte("\r")), want: cat(text, []byte("\r"))},
		{name: "raw keeps LF", content: cat(text, nl), opts: vault.LoadOptions{Raw: true}, want: cat(text, nl)},
		{name: "raw keeps CRLF", content: cat(text, crlf), opts: vault.LoadOptions{Raw: true}, want: cat(text, crlf)},
		{name: "NUL bytes kept", content: cat([]byte{0}, text, []byte{0, 0}), want: cat([]byte{0}, text, []byte{0, 0})},
		{name: "exactly MaxSize", content: atMax, opts: vault.LoadOptions{MaxSize: 1000}, want: atMax},
		{name: "MaxSize and a trimmed LF", content: cat(atMax, nl), opts: vault.LoadOptions{MaxSize: 1000}, want: atMax},
		{name: "MaxSize and a trimmed CRLF", content: cat(atMax, crlf), opts: vault.LoadOptions{MaxSize: 1000}, want: atMax},
		{name: "one byte over MaxSize", content: cat(atMax, []byte("x")), opts: vault.LoadOptions{MaxSize: 1000}, err: vault.ErrTooLarge},
		{name: "raw LF over MaxSize", content: cat(atMax, nl), opts: vault.LoadOptions{MaxSize: 1000, Raw: true}, err: vault.ErrTooLarge},
		{name: "far over MaxSize", content: randBytes(t, 5000), opts: vault.LoadOptions{MaxSize: 1000}, err: vault.ErrTooLarge},
		{name: "exactly the default limit", content: atDefault, want: atDefault},
		{name: "over the default limit", content: cat(atDefault, []byte("x")), err: vault.ErrTooLarge},
		{name: "empty", content: nil, err: vault.ErrEmpty},
		{name: "only a newline", content: nl, err: vault.ErrEmpty},
		{name: "only a CRLF", content: crlf, err: vault.ErrEmpty},
		{name: "raw lone newline", content: nl, opts: vault.LoadOptions{Raw: true}, want: nl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needLock(t, len(tc.content)+3*os.Getpagesize())
			v := newVault(t)
			src := source(t, "file:"+writeFile(t, tc.content))
			s, err := v.Load("FILE_SECRET", src, tc.opts)
			if tc.want == nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Load = %v, want %v", err, tc.err)
				}
				if s != nil {
					t.Errorf("a failed Load returned a secret")
				}
				checkSourceError(t, err, "FILE_SECRET", src, string(text))
				if len(v.Secrets()) != 0 || v.Locked() != 0 {
					t.Errorf("a failed Load left %d secrets, %d bytes locked", len(v.Secrets()), v.Locked())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := value(t, v, s); !bytes.Equal(got, tc.want) {
				t.Errorf("value is %d bytes %q..., want %d bytes", len(got), got[:min(len(got), 8)], len(tc.want))
			}
			if s.Len() != len(tc.want) || s.Name != "FILE_SECRET" {
				t.Errorf("secret %s has Len %d, want FILE_SECRET with %d", s.Name, s.Len(), len(tc.want))
			}
		})
	}
}

func TestFileSourceMissing(t *testing.T) {
	v := newVault(t)
	src := source(t, "file:"+filepath.Join(t.TempDir(), "absent"))
	_, err := v.Load("MISSING", src, vault.LoadOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
	checkSourceError(t, err, "MISSING", src, "")
}

func TestEnvSource(t *testing.T) {
	v := newVault(t)
	key, val := randVar(t), randText(t, 48)
	t.Setenv(key, val)
	s, err := v.Load("ENV_SECRET", source(t, "env:"+key), vault.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, v, s); string(got) != val {
		t.Errorf("value %q, want %q", got, val)
	}
	if _, ok := os.LookupEnv(key); ok {
		t.Errorf("%s is still set after the load", key)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, key+"=") || strings.Contains(kv, val) {
			t.Errorf("os.Environ still has the secret: %q", kv)
		}
	}
	out, err := exec.Command("/bin/sh", "-c", `printf %s "${`+key+`-unset}"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "unset" {
		t.Errorf("a child started after the load sees %s=%q", key, out)
	}
}

func TestEnvSourceFailures(t *testing.T) {
	t.Run("unset", func(t *testing.T) {
		v := newVault(t)
		key := randVar(t)
		src := source(t, "env:"+key)
		_, err := v.Load("UNSET", src, vault.LoadOptions{})
		if !errors.Is(err, vault.ErrUnsetVariable) {
			t.Fatalf("Load of an unset variable = %v, want ErrUnsetVariable", err)
		}
		// The name may be a value typed for it (env:$TOKEN): not shown.
		if msg := err.Error(); !strings.Contains(msg, "secret UNSET from env:") || strings.Contains(msg, key) {
			t.Errorf("error %q: want the secret and the kind named, not the variable", msg)
		}
	})
	t.Run("empty", func(t *testing.T) {
		v := newVault(t)
		key := randVar(t)
		t.Setenv(key, "")
		_, err := v.Load("EMPTY", source(t, "env:"+key), vault.LoadOptions{})
		if !errors.Is(err, vault.ErrEmpty) {
			t.Fatalf("Load of an empty variable = %v, want ErrEmpty", err)
		}
	})
}

const envBlockChild = "NINGEN_TEST_ENV_BLOCK_KEY"

// TestEnvSourceInitialBlock checks what the README and loadEnv promise:
// after an env: load, the value is overwritten in ningen's initial
// environment block too, so /proc/PID/environ no longer shows it. It needs
// a re-executed child, whose initial block holds the variable.
func TestEnvSourceInitialBlock(t *testing.T) {
	if key := os.Getenv(envBlockChild); key != "" {
		envBlockCheck(key)
		return
	}
	key, val := randVar(t), randText(t, 40)
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvSourceInitialBlock$", "-test.count=1")
	cmd.Env = append(os.Environ(), envBlockChild+"="+key, key+"="+val, "GORACE=atexit_sleep_ms=0")
	cmd.Stdin = strings.NewReader(val) // the child learns the value here, not from a second variable
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), "loaded") {
		t.Fatalf("the child did not load the variable: %v\n%s", err, out)
	}
	if err != nil || !strings.Contains(string(out), "block clean") {
		t.Errorf("after an env: load the value is still readable in /proc/self/environ: %v\n%s", err, out)
	}
}

func envBlockCheck(key string) {
	want, _ := io.ReadAll(os.Stdin)
	v := vault.New()
	s, err := v.Load("BLOCK", vault.Source{Kind: vault.FromEnv, Arg: key}, vault.LoadOptions{})
	if err != nil {
		println("load:", err.Error())
		os.Exit(3)
	}
	var same bool
	_ = v.View(s, func(b []byte) { same = bytes.Equal(b, want) })
	if !same {
		println("loaded a different value")
		os.Exit(3)
	}
	println("loaded")
	environ, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		println("read /proc/self/environ:", err.Error())
		os.Exit(3)
	}
	if bytes.Contains(environ, want) {
		println("/proc/self/environ still holds the value")
		os.Exit(1)
	}
	println("block clean")
	os.Exit(0)
}

func TestExecSource(t *testing.T) {
	key, val := randVar(t), randText(t, 40)
	t.Setenv(key, val) // the commands print $key: the value is never in the command line
	t.Run("stdout", func(t *testing.T) {
		v := newVault(t)
		s, err := v.Load("EXEC", source(t, `exec:printf '%s\n' "$`+key+`"`), vault.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := value(t, v, s); string(got) != val {
			t.Errorf("value %q, want %q", got, val)
		}
	})
	t.Run("stderr passes through", func(t *testing.T) {
		v := newVault(t)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		note := randText(t, 20)
		s, err := v.Load("EXEC", source(t, `exec:echo `+note+` >&2; printf %s "$`+key+`"`), vault.LoadOptions{Stderr: w})
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		errOut, _ := io.ReadAll(r)
		if string(errOut) != note+"\n" {
			t.Errorf("stderr got %q, want %q", errOut, note+"\n")
		}
		if got := value(t, v, s); string(got) != val {
			t.Errorf("value %q, want %q", got, val)
		}
	})
	t.Run("exit status", func(t *testing.T) {
		v := newVault(t)
		src := source(t, `exec:printf %s "$`+key+`"; exit 3`)
		s, err := v.Load("EXEC", src, vault.LoadOptions{})
		if err == nil || s != nil {
			t.Fatalf("a command that exits 3 gave a secret")
		}
		if !strings.Contains(err.Error(), "status 3") {
			t.Errorf("error %q does not give the exit status 3", err)
		}
		checkSourceError(t, err, "EXEC", src, val)
		if v.Locked() != 0 || len(v.Secrets()) != 0 {
			t.Errorf("the failed command's output stays: %d bytes locked", v.Locked())
		}
	})
	t.Run("killed by a signal", func(t *testing.T) {
		v := newVault(t)
		src := source(t, `exec:printf %s "$`+key+`"; kill -KILL $$`)
		_, err := v.Load("EXEC", src, vault.LoadOptions{})
		if err == nil {
			t.Fatal("a command killed by SIGKILL gave a secret")
		}
		if !strings.Contains(err.Error(), "SIGKILL") {
			t.Errorf("error %q does not name SIGKILL", err)
		}
		checkSourceError(t, err, "EXEC", src, val)
	})
	t.Run("no output", func(t *testing.T) {
		v := newVault(t)
		_, err := v.Load("EXEC", source(t, "exec:true"), vault.LoadOptions{})
		if !errors.Is(err, vault.ErrEmpty) {
			t.Errorf("a command with no output: %v, want ErrEmpty", err)
		}
	})
}

// TestExecSourceTimeout runs a command that would hang for 30s, with a
// grandchild in its process group: the load fails soon after the timeout,
// says so without the output, and leaves no process of the group alive.
func TestExecSourceTimeout(t *testing.T) {
	key, val := randVar(t), randText(t, 40)
	t.Setenv(key, val)
	v := newVault(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := source(t, `exec:printf %s "$`+key+`"; sleep 30 & echo $$ >&2; wait`)
	start := time.Now()
	_, err = v.Load("SLOW", src, vault.LoadOptions{ExecTimeout: 300 * time.Millisecond, Stderr: w})
	took := time.Since(start)
	w.Close()
	if err == nil {
		t.Fatal("a hanging command gave a secret")
	}
	if !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q does not say the command timed out", err)
	}
	checkSourceError(t, err, "SLOW", src, val)
	if took > 10*time.Second {
		t.Errorf("Load took %s with a 300ms timeout", took)
	}
	// EOF on stderr means every process that held it, the shell and its
	// sleep, has exited.
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	errOut, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("the command's processes still hold its stderr: %v", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(errOut)))
	if err != nil {
		t.Fatalf("the command printed %q, not its pid", errOut)
	}
	// A process closes its descriptors in exit before it becomes a zombie,
	// so give the kernel a bounded moment to finish the exits.
	deadline := time.Now().Add(5 * time.Second)
	alive := groupMembers(t, pgid)
	for len(alive) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		alive = groupMembers(t, pgid)
	}
	if len(alive) > 0 {
		t.Errorf("process group %d still has live members %v", pgid, alive)
	}
}

// groupMembers lists the processes of group pgid that are not zombies.
func groupMembers(t testing.TB, pgid int) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestExecSourceTooLarge: a command that prints more than the limit fails
// with ErrTooLarge, at once, not after the exec timeout.
func TestExecSourceTooLarge(t *testing.T) {
	v := newVault(t)
	start := time.Now()
	_, err := v.Load("CHATTY", source(t, "exec:yes"), vault.LoadOptions{MaxSize: 1000, ExecTimeout: 5 * time.Second})
	took := time.Since(start)
	if !errors.Is(err, vault.ErrTooLarge) {
		t.Errorf("a command printing without end: %v, want ErrTooLarge", err)
	}
	if took > 3*time.Second {
		t.Errorf("Load took %s: the oversized command was left to run into the 5s timeout", took)
	}
}

func TestStdinSource(t *testing.T) {
	v := newVault(t)
	want := randBytes(t, 5000)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		_, _ = w.Write(want)
		w.Close()
	}()
	s, err := v.Load("STDIN", source(t, "stdin"), vault.LoadOptions{Stdin: r})
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, v, s); !bytes.Equal(got, want) {
		t.Errorf("stdin value differs from the %d bytes written", len(want))
	}
}

func TestFDSource(t *testing.T) {
	v := newVault(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	want := randBytes(t, 3000)
	if n, err := unix.Write(p[1], want); err != nil || n != len(want) {
		t.Fatalf("write the pipe: %d, %v", n, err)
	}
	unix.Close(p[1])
	// The vault owns descriptor p[0] from here: it reads it to the end.
	s, err := v.Load("FD", source(t, "fd:"+strconv.Itoa(p[0])), vault.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, v, s); !bytes.Equal(got, want) {
		t.Errorf("fd value differs from the %d bytes written", len(want))
	}
}

func TestFDSourceNotOpen(t *testing.T) {
	v := newVault(t)
	src := source(t, "fd:1048575") // above any descriptor this process has
	_, err := v.Load("NOFD", src, vault.LoadOptions{})
	if err == nil {
		t.Fatal("Load from a descriptor that is not open succeeded")
	}
	checkSourceError(t, err, "NOFD", src, "")
}

// ptyPrompt drives a prompt source from the master side of a pty: it waits
// for the prompt text, types answer and a newline, and returns everything
// the terminal showed after the prompt up to the next newline.
func ptyPrompt(t *testing.T, v *vault.Vault, name string, src vault.Source, prompt, answer string) (*vault.Secret, string, error) {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lflag&unix.ECHO == 0 {
		t.Fatal("a new pty has echo off: the test cannot tell")
	}
	seen := make(chan struct{})
	shown := make(chan string, 1)
	go func() {
		var buf []byte
		chunk := make([]byte, 256)
		at := -1
		for {
			n, err := master.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if at < 0 {
				if i := bytes.Index(buf, []byte(prompt)); i >= 0 {
					at = i + len(prompt)
					close(seen)
				}
			}
			if at >= 0 && bytes.IndexByte(buf[at:], '\n') >= 0 {
				shown <- string(buf[at:])
				return
			}
			if err != nil {
				shown <- "read error: " + err.Error() + ": " + string(buf)
				return
			}
		}
	}()
	type result struct {
		s   *vault.Secret
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := v.Load(name, src, vault.LoadOptions{TTY: tty.Name()})
		done <- result{s, err}
	}()
	select {
	case <-seen:
	case r := <-done:
		t.Fatalf("Load returned before the prompt %q was shown: %v", prompt, r.err)
	case <-time.After(10 * time.Second):
		t.Fatalf("no prompt %q on the terminal", prompt)
	}
	if _, err := master.Write([]byte(answer + "\n")); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load did not return after the answer")
	}
	var out string
	select {
	case out = <-shown:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal showed no newline after the answer")
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag&unix.ECHO == 0 {
		t.Error("echo is still off after the prompt")
	}
	return r.s, out, r.err
}

func TestPromptSource(t *testing.T) {
	t.Run("with text", func(t *testing.T) {
		v := newVault(t)
		prompt := "Token " + randText(t, 6) + "? "
		answer := randText(t, 32)
		s, shown, err := ptyPrompt(t, v, "PROMPTED", source(t, "prompt:"+prompt), prompt, answer)
		if err != nil {
			t.Fatal(err)
		}
		if got := value(t, v, s); string(got) != answer {
			t.Errorf("value %q, want %q", got, answer)
		}
		if strings.Contains(shown, answer) {
			t.Errorf("the terminal echoed the answer: %q", shown)
		}
	})
	t.Run("default text", func(t *testing.T) {
		v := newVault(t)
		answer := randText(t, 20)
		s, shown, err := ptyPrompt(t, v, "ASKED", source(t, "prompt"), "ASKED: ", answer)
		if err != nil {
			t.Fatal(err)
		}
		if got := value(t, v, s); string(got) != answer {
			t.Errorf("value %q, want %q", got, answer)
		}
		if strings.Contains(shown, answer) {
			t.Errorf("the terminal echoed the answer: %q", shown)
		}
	})
	t.Run("empty answer", func(t *testing.T) {
		v := newVault(t)
		_, _, err := ptyPrompt(t, v, "NOTHING", source(t, "prompt:say: "), "say: ", "")
		if !errors.Is(err, vault.ErrEmpty) {
			t.Errorf("an empty answer: %v, want ErrEmpty", err)
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		v := newVault(t)
		src := source(t, "prompt")
		_, err := v.Load("NOTTY", src, vault.LoadOptions{TTY: writeFile(t, []byte("x"))})
		if err == nil {
			t.Fatal("a prompt on a regular file succeeded")
		}
		checkSourceError(t, err, "NOTTY", src, "")
	})
}

func TestLoadAfterClose(t *testing.T) {
	key := randVar(t)
	t.Setenv(key, randText(t, 20))
	for _, s := range []string{"file:" + writeFile(t, randBytes(t, 30)), "env:" + key, "exec:echo x", "stdin"} {
		t.Run(s, func(t *testing.T) {
			v := vault.New()
			if _, err := v.Close(); err != nil {
				t.Fatal(err)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			w.Close()
			src := source(t, s)
			_, err = v.Load("LATE", src, vault.LoadOptions{Stdin: r})
			if !errors.Is(err, vault.ErrClosed) {
				t.Errorf("Load after Close: %v, want ErrClosed", err)
			}
			checkSourceError(t, err, "LATE", src, "")
		})
	}
}

// TestLoadAfterCloseTouchesNoSource: a closed vault must not act on a
// source it cannot keep: no command run, no variable consumed.
func TestLoadAfterCloseTouchesNoSource(t *testing.T) {
	v := vault.New()
	if _, err := v.Close(); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(t.TempDir(), "ran")
	if _, err := v.Load("LATE", source(t, "exec:touch "+mark+"; echo x"), vault.LoadOptions{}); !errors.Is(err, vault.ErrClosed) {
		t.Errorf("exec Load after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Errorf("a closed vault ran the exec: command")
	}
	key, val := randVar(t), randText(t, 20)
	t.Setenv(key, val)
	if _, err := v.Load("LATE", source(t, "env:"+key), vault.LoadOptions{}); !errors.Is(err, vault.ErrClosed) {
		t.Errorf("env Load after Close: %v, want ErrClosed", err)
	}
	if got, ok := os.LookupEnv(key); !ok || got != val {
		t.Errorf("a closed vault consumed %s: now %q (set %v)", key, got, ok)
	}
}

// TestFIFOFileSource: a file: source naming a FIFO waits for a writer and
// reads everything it writes, in as many pieces as it comes, to its close.
func TestFIFOFileSource(t *testing.T) {
	v := newVault(t)
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	want := randBytes(t, 100_000)
	wrote := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for the vault to open it
		if err != nil {
			wrote <- err
			return
		}
		defer w.Close()
		for b := want; len(b) > 0; b = b[min(len(b), 7000):] {
			if _, err := w.Write(b[:min(len(b), 7000)]); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	s, err := v.Load("FIFO", source(t, "file:"+path), vault.LoadOptions{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if got := value(t, v, s); !bytes.Equal(got, want) {
		t.Errorf("FIFO value differs from the %d bytes written", len(want))
	}
}

// TestPromptAborted: a prompt that is waiting for its answer gives up with
// ErrAborted once Abort is closed. It used to wait for ever: the terminal
// had been made blocking, where the read deadline meant to end it does
// nothing, so no trigger could end a session still at its prompt.
func TestPromptAborted(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	shown := make(chan struct{})
	go func() {
		var buf []byte
		chunk := make([]byte, 256)
		for !bytes.Contains(buf, []byte("K: ")) {
			n, err := master.Read(chunk)
			if err != nil {
				return
			}
			buf = append(buf, chunk[:n]...)
		}
		close(shown)
		_, _ = io.Copy(io.Discard, master)
	}()
	v := newVault(t)
	abort := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := v.Load("K", source(t, "prompt"), vault.LoadOptions{TTY: tty.Name(), Abort: abort})
		done <- err
	}()
	select {
	case <-shown:
	case err := <-done:
		t.Fatalf("Load returned before the prompt was shown: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no prompt on the terminal")
	}
	close(abort)
	select {
	case err := <-done:
		if !errors.Is(err, vault.ErrAborted) {
			t.Errorf("Load after the abort: %v, want ErrAborted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the prompt still waits 10s after the abort")
	}
	if n, err := v.Close(); err != nil || n != 0 {
		t.Errorf("wiped %d bytes (%v): an aborted prompt kept something", n, err)
	}
}

// TestWaitingSourceAborted: a stdin, fd: or FIFO source that is waiting for
// its value gives up with ErrAborted once Abort is closed, and nothing is
// kept of it.
func TestWaitingSourceAborted(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"stdin", "fd", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			v := newVault(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close() // held open: the source would wait for ever
			o := vault.LoadOptions{Stdin: r}
			src := map[string]string{"stdin": "stdin", "fifo": "file:" + fifo}[kind]
			if kind == "fd" {
				fd, err := unix.Dup(int(r.Fd()))
				if err != nil {
					t.Fatal(err)
				}
				src = "fd:" + strconv.Itoa(fd) // the vault closes it
			}
			abort := make(chan struct{})
			o.Abort = abort
			done := make(chan error, 1)
			go func() {
				_, err := v.Load("K", source(t, src), o)
				done <- err
			}()
			close(abort) // whether Load waits already or not yet, it must give up
			select {
			case err := <-done:
				if !errors.Is(err, vault.ErrAborted) {
					t.Errorf("Load after the abort: %v, want ErrAborted", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load still waiting 10s after the abort")
			}
			if n, err := v.Close(); err != nil || n != 0 {
				t.Errorf("wiped %d bytes (%v): an aborted source kept something", n, err)
			}
		})
	}
}

// TestWriteOnlySourceFails: a stdin or fd: source that is the write end of
// a pipe (its read end still held elsewhere) fails at once; poll would
// never call it readable.
func TestWriteOnlySourceFails(t *testing.T) {
	for _, kind := range []string{"stdin", "fd"} {
		t.Run(kind, func(t *testing.T) {
			v := newVault(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close() // held: the pipe never hangs up
			defer w.Close()
			src, o := "stdin", vault.LoadOptions{Stdin: w, Abort: make(chan struct{})}
			if kind == "fd" {
				fd, err := unix.Dup(int(w.Fd()))
				if err != nil {
					t.Fatal(err)
				}
				src = "fd:" + strconv.Itoa(fd)
			}
			done := make(chan error, 1)
			go func() {
				_, err := v.Load("K", source(t, src), o)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Load read a value from a write-only descriptor")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load still waiting on a write-only descriptor after 10s")
			}
		})
	}
}

// TestLeasedFileSource: a file under a write lease (as an SMB oplock or an
// NFS delegation holds one) is read once the holder lets go, not refused
// because a non-blocking open would have to wait.
func TestLeasedFileSource(t *testing.T) {
	v := newVault(t)
	want := randBytes(t, 300)
	path := filepath.Join(t.TempDir(), "leased")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	holder, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := unix.FcntlInt(holder.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		t.Skipf("no write lease on %s here: %v", path, err)
	}
	done := make(chan error, 1)
	var s *vault.Secret
	go func() {
		var err error
		s, err = v.Load("K", source(t, "file:"+path), vault.LoadOptions{})
		done <- err
	}()
	// The open breaks the lease: F_GETLEASE then says what it is breaking
	// to (a read lease). Only then let go, as a lease holder does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		lt, err := unix.FcntlInt(holder.Fd(), unix.F_GETLEASE, 0)
		if err != nil {
			t.Fatal(err)
		}
		if lt != unix.F_WRLCK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Load returned while the lease was held: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the source never opened the leased file")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := unix.FcntlInt(holder.Fd(), unix.F_SETLEASE, unix.F_UNLCK); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := value(t, v, s); !bytes.Equal(got, want) {
		t.Error("leased file's value differs from its contents")
	}
}
