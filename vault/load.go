//go:build unix

package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxSize is the largest secret accepted unless raised (SPEC §3).
const DefaultMaxSize = 64 << 10

// LoadOptions tune one Load.
type LoadOptions struct {
	MaxSize     int             // largest value accepted; 0 means DefaultMaxSize
	Raw         bool            // keep a trailing newline
	ExecTimeout time.Duration   // how long an exec source may run; 0 means 30s
	Stdin       *os.File        // the stdin source; nil means os.Stdin
	Stderr      *os.File        // where an exec source's stderr goes; nil means os.Stderr
	TTY         string          // the terminal for prompts; "" means /dev/tty
	Abort       <-chan struct{} // closed: give up waiting on a prompt or a command
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// abortOn ends a read on f early when abort is closed, through a deadline
// in the past. The returned function stops watching.
func abortOn(abort <-chan struct{}, f *os.File) (stop func()) {
	if abort == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-abort:
			_ = f.SetReadDeadline(time.Unix(1, 0))
		case <-done:
		}
	}()
	return func() { close(done) }
}

// SourceError says which secret and which source failed. It never carries
// the value, nor an exec source's output.
type SourceError struct {
	Name   string
	Source Source
	Err    error
}

func (e *SourceError) Error() string {
	src := e.Source.String()
	if errors.Is(e.Err, ErrUnsetVariable) {
		src = string(e.Source.Kind) // perhaps the value, given for the name
	}
	return fmt.Sprintf("secret %s from %s: %v", e.Name, src, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// Errors a source can end in.
var (
	// ErrUnsetVariable: an env: source names no variable ningen was
	// given. The name is not shown: a value typed where the name belongs
	// (env:$TOKEN for env:TOKEN) would be.
	ErrUnsetVariable = errors.New("no variable of that name is set (the name is not shown, in case a value was given for it)")
	ErrEmpty         = errors.New("the value is empty")
	ErrTooLarge      = errors.New("the value is larger than the size limit")
)

// Load reads one secret from src straight into locked memory.
func (v *Vault) Load(name string, src Source, o LoadOptions) (*Secret, error) {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if v.isClosed() { // before the source is touched: no command run, no variable taken
		return nil, &SourceError{Name: name, Source: src, Err: ErrClosed}
	}
	s, err := v.load(name, src, o)
	if err != nil {
		return nil, &SourceError{Name: name, Source: src, Err: err}
	}
	return s, nil
}

func (v *Vault) load(name string, src Source, o LoadOptions) (*Secret, error) {
	switch src.Kind {
	case FromFile:
		return v.loadFile(name, src.Arg, o)
	case FromEnv:
		return v.loadEnv(name, src.Arg, o)
	case FromExec:
		return v.loadExec(name, src.Arg, o)
	case FromStdin:
		fd := 0
		if o.Stdin != nil {
			fd = int(o.Stdin.Fd())
		}
		return v.fillWaiting(name, fd, o)
	case FromPrompt:
		return v.loadPrompt(name, src.Arg, o)
	case FromFD:
		return v.loadFD(name, src.Arg, o)
	}
	return nil, fmt.Errorf("unknown source kind %q", src.Kind)
}

// loadFile opens path without blocking, so that a FIFO with no writer yet
// waits in the read, where a trigger can end it, rather than in open. A
// regular file under a lease (an SMB oplock, an NFS delegation) refuses a
// non-blocking open; it is opened again, waiting for the lease to break.
func (v *Vault) loadFile(name, path string, o LoadOptions) (*Secret, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.EWOULDBLOCK {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		defer unix.Close(fd)
		if err := unix.SetNonblock(fd, false); err != nil { // its own description: nobody shares it
			return nil, &os.PathError{Op: "fcntl", Path: path, Err: err}
		}
		return v.fillWaiting(name, fd, o)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if st.Size > int64(o.MaxSize)+2 {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, st.Size, o.MaxSize)
	}
	return v.fill(name, f, int(st.Size), o)
}

func (v *Vault) loadFD(name, arg string, o LoadOptions) (*Secret, error) {
	fd, _ := strconv.Atoi(arg) // ParseSource checked it
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return nil, fmt.Errorf("descriptor %d is not open: %w", fd, err)
	}
	defer unix.Close(fd)
	return v.fillWaiting(name, fd, o)
}

// loadEnv copies the variable's value into the vault, then overwrites the
// value in the initial environment block (what /proc/PID/environ shows)
// and in the runtime's copy of it, and removes the variable, so the child
// never inherits it. What the parent process kept is beyond ningen.
func (v *Vault) loadEnv(name, key string, o LoadOptions) (*Secret, error) {
	val, ok := syscall.Getenv(key)
	if !ok {
		return nil, ErrUnsetVariable
	}
	s, err := v.fill(name, strings.NewReader(val), len(val), o)
	scrubInitialEnv(key)
	scrub(val)
	if uerr := os.Unsetenv(key); uerr != nil && err == nil {
		err = uerr
	}
	return s, err
}

func (v *Vault) loadExec(name, command string, o LoadOptions) (*Secret, error) {
	timeout := o.ExecTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := execCommand(ctx, command, w, o.Stderr)
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, err
	}
	_ = r.SetReadDeadline(time.Now().Add(timeout))
	stop := abortOn(o.Abort, r)
	s, ferr := v.fill(name, r, 0, o)
	stop()
	tooLarge := errors.Is(ferr, ErrTooLarge)
	aborted := closed(o.Abort)
	if tooLarge || aborted {
		_ = cmd.Cancel() // it may be blocked writing more than we take, or be told to stop
	}
	werr := cmd.Wait()
	switch {
	case tooLarge:
		return nil, ferr
	case aborted:
		err = errors.New("stopped: a trigger fired while it ran")
	case ctx.Err() != nil || errors.Is(ferr, os.ErrDeadlineExceeded):
		err = fmt.Errorf("timed out after %s", timeout)
	case werr != nil:
		err = exitError(werr)
	default:
		return s, ferr
	}
	if s != nil {
		v.drop(s)
	}
	return nil, err
}

// execCommand runs command with /bin/sh -c in its own process group, so a
// timeout kills whatever it started too.
func execCommand(ctx context.Context, command string, stdout, stderr *os.File) *exec.Cmd {
	if stderr == nil {
		stderr = os.Stderr
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

func exitError(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("the command was killed by %s", unix.SignalName(ws.Signal()))
	}
	return fmt.Errorf("the command exited with status %d", ee.ExitCode())
}

func (v *Vault) loadPrompt(name, text string, o LoadOptions) (*Secret, error) {
	path := o.TTY
	if path == "" {
		path = "/dev/tty"
	}
	tty, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open the terminal (a prompt needs one; without one use stdin, file: or exec:): %w", err)
	}
	defer tty.Close()
	if text == "" {
		text = name + ": "
	}
	restore, err := echoOff(int(tty.Fd()))
	if err != nil {
		return nil, fmt.Errorf("turn terminal echo off: %w", err)
	}
	defer restore()
	if _, err := io.WriteString(tty, text); err != nil {
		return nil, err
	}
	o.Raw = false // the newline ends the answer; it is never part of it
	// The wait is in poll, beside the abort pipe, as for stdin: Fd above
	// made the terminal blocking, where a read deadline does nothing.
	abort, stop, err := abortPipe(o.Abort)
	if err != nil {
		return nil, err
	}
	s, err := v.fill(name, lineReader{pollReader{fd: int(tty.Fd()), abort: abort}}, 0, o)
	stop()
	_, _ = io.WriteString(tty, "\n")
	return s, err
}

// lineReader ends at the first newline: a terminal in canonical mode hands
// over one line per read, straight into the caller's buffer.
type lineReader struct{ r io.Reader }

func (l lineReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err == nil && n > 0 && p[n-1] == '\n' {
		err = io.EOF
	}
	return n, err
}
