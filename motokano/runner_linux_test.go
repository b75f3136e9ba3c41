//go:build linux

package motokano

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunnerClosesEachDescriptorOnce: an env-delivered secret's pipe is
// closed once it is read. When the call ends, the runner must not close
// that number again: by then it may be a descriptor of the next call,
// received meanwhile (a tool that read fd 3 got /dev/null's EOF that
// way, once in a CI run as nobody).
func TestRunnerClosesEachDescriptorOnce(t *testing.T) {
	var out, sec [2]int
	if err := unix.Pipe2(out[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(out[0])
	if err := unix.Pipe2(sec[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(sec[1], []byte("value")); err != nil {
		t.Fatal(err)
	}
	unix.Close(sec[1])

	r := &toolRunner{groups: map[int]bool{}}
	fds := []int{out[1], sec[0]}
	req := runRequest{Argv: []string{"true"}, Secrets: []runSecret{{Name: "S", Env: true}}}
	pid, err := r.start(req, fds)
	if err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}

	// The next call's descriptor takes the secret pipe's old number.
	next, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if int(next.Fd()) != sec[0] { // else the open took it already
		if err := unix.Dup3(int(next.Fd()), sec[0], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(sec[0])
	}

	closeFDs(fds) // what run does when the call ends
	if _, err := unix.FcntlInt(uintptr(sec[0]), unix.F_GETFD, 0); err != nil {
		t.Fatalf("descriptor %d, no longer the runner's, was closed: %v", sec[0], err)
	}
}
