//go:build linux

package launcher

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// killFirstEnv makes the test binary run one kill-first session itself: a
// session makes its process the subreaper, which must not leak into the
// other tests here.
const killFirstEnv = "NINGEN_TEST_KILL_FIRST"

// TestKillBeforeReaping: the kill step kills before it takes the reaper's
// lock. Under a tree that forks without pause the reaper holds that lock
// batch after batch, and ningen, one process among a hundred busy ones,
// gets a sliver of the CPU: a step that reaped first once waited 2.8s for
// the lock before its write to cgroup.kill. Here the test holds the lock
// while the step runs, and the holders must die all the same: through
// cgroup.kill, or the child's process group signalled through its pidfd.
func TestKillBeforeReaping(t *testing.T) {
	if mode := os.Getenv(killFirstEnv); mode != "" {
		killFirst(t, Tracking(mode))
		return
	}
	for _, mode := range []Tracking{TrackSubreaper, TrackCgroup} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			if mode == TrackCgroup {
				cg, err := newCgroup()
				if err != nil {
					t.Skipf("needs root or a delegated cgroup v2 subtree: %v", err)
				}
				_ = cg.remove()
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestKillBeforeReaping$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), killFirstEnv+"="+string(mode))
			cmd.WaitDelay = time.Minute // a holder left alive must not keep the output open for ever
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s session: %v\n%s", mode, err, out)
			}
			if !strings.Contains(string(out), "holders dead while the reaper's lock was held") {
				t.Fatalf("%s session did not run:\n%s", mode, out)
			}
		})
	}
}

// killFirst starts a session of two sleepers below a shell, holds the
// reaper's lock and runs the kill step.
func killFirst(t *testing.T, mode Tracking) {
	if mode == TrackSubreaper && !groupSignal() {
		fmt.Println("holders dead while the reaper's lock was held (skipped: Linux before 6.9 kills only in rounds, under the lock)")
		return
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Start(Config{
		Args:   []string{"sh", "-c", "sleep 1000 & echo $!; sleep 1000 & echo $!; wait"},
		Stdin:  devnull,
		Stdout: w,
		Stderr: os.Stderr,
		Track:  mode,
	}, nil)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tracking(); got != mode {
		t.Fatalf("tracking %s, want %s", got, mode)
	}
	var fds []int
	sc := bufio.NewScanner(r)
	for len(fds) < 2 && sc.Scan() {
		pid, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("sleeper pid %q: %v", sc.Text(), err)
		}
		fd, err := unix.PidfdOpen(pid, 0) // alive, and only its shell may reap it
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	if len(fds) < 2 {
		t.Fatalf("the shell printed %d sleeper pids", len(fds))
	}

	s.reapMu.Lock()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.Kill()
		done <- result{n, err}
	}()
	alive := 0
	for _, fd := range fds {
		if !waitExit(fd, 10*time.Second) {
			alive++
		}
	}
	s.reapMu.Unlock()
	res := <-done // with the lock back, the step kills whatever is left
	if alive > 0 {
		t.Fatalf("%d holders lived on while the reaper's lock was held: the kill step waits for the lock before it kills", alive)
	}
	if res.err != nil {
		t.Fatalf("kill step: %v", res.err)
	}
	if res.n != 3 {
		t.Errorf("kill step reaped %d holders, want 3 (the shell and its sleepers)", res.n)
	}
	s.Finish()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("holders dead while the reaper's lock was held")
}

// groupSignal reports whether pidfd_send_signal takes
// PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9+): signal 0 to this process's own
// group through its own pidfd fails with EINVAL where it does not.
func groupSignal() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, 0, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP) != unix.EINVAL
}
