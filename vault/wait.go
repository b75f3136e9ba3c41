//go:build unix

package vault

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ErrAborted ends a source that was still waiting when a trigger fired.
var ErrAborted = errors.New("stopped: a trigger fired while it waited")

// pollReader reads a descriptor that may block (stdin, fd:N, a FIFO) only
// once poll says a read will not: the wait happens in poll, beside the
// read end of an abort pipe, so that a trigger ends it. The descriptor's
// own flags are never changed: stdin's file description is shared with
// ningen's parent and, later, with the child.
type pollReader struct {
	fd    int
	abort int // -1: nothing to watch
}

func (r pollReader) Read(p []byte) (int, error) {
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.abort), Events: unix.POLLIN}}
	if r.abort < 0 {
		fds = fds[:1]
	}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.SyscallError{Syscall: "poll", Err: err}
		}
		if len(fds) > 1 && fds[1].Revents != 0 {
			return 0, ErrAborted
		}
		if fds[0].Revents == 0 {
			continue
		}
		// Readable, hung up or in error: the read says which.
		n, err := unix.Read(r.fd, p)
		switch {
		case err == unix.EINTR, err == unix.EAGAIN: // EAGAIN: someone made it non-blocking
			continue
		case err != nil:
			return 0, &os.SyscallError{Syscall: "read", Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// abortPipe returns the read end of a pipe that becomes readable when
// abort is closed, or -1 without an abort; stop releases it.
func abortPipe(abort <-chan struct{}) (fd int, stop func(), err error) {
	if abort == nil {
		return -1, func() {}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return -1, nil, err
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-abort:
			_, _ = w.Write([]byte{1})
		case <-done:
		}
	}()
	fd = int(r.Fd())
	return fd, func() {
		close(done)
		<-exited
		r.Close()
		w.Close()
	}, nil
}

// fillWaiting fills a secret from fd, which may block, through pollReader.
// A descriptor open for writing only is read at once, which fails: poll
// would never report it readable, and would wait for ever.
func (v *Vault) fillWaiting(name string, fd int, o LoadOptions) (*Secret, error) {
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_ACCMODE == unix.O_WRONLY {
		_, err := unix.Read(fd, make([]byte, 1))
		return nil, &os.SyscallError{Syscall: "read", Err: err}
	}
	abort, stop, err := abortPipe(o.Abort)
	if err != nil {
		return nil, err
	}
	defer stop()
	return v.fill(name, pollReader{fd: fd, abort: abort}, 0, o)
}
