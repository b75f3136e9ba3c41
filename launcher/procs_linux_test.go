//go:build linux

package launcher

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startOnThread starts `sleep` from a goroutine locked to a new OS thread,
// so that the child is that thread's, and returns the child and the
// thread's id. The thread ends when end is closed, once the child is
// reaped: a goroutine that returns locked takes its thread with it.
func startOnThread(t *testing.T, end chan struct{}) (*exec.Cmd, string) {
	t.Helper()
	type started struct {
		cmd *exec.Cmd
		tid int
		err error
	}
	c := make(chan started)
	offMainThread(func() {
		cmd := exec.Command("sleep", "1000")
		err := cmd.Start()
		c <- started{cmd, unix.Gettid(), err}
		<-end
	})
	s := <-c
	if s.err != nil {
		t.Fatal(s.err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	return s.cmd, strconv.Itoa(s.tid)
}

// offMainThread runs f on a goroutine locked to an OS thread other than the
// main one, which never ends: the thread ends when f returns.
func offMainThread(f func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			f()
			return
		}
		// Held here, the main thread cannot run the next goroutine.
		moved := make(chan struct{})
		offMainThread(func() { close(moved); f() })
		<-moved
		runtime.UnlockOSThread()
	}()
}

// TestOwnChildrenFollowThreads: a child forked by any of ningen's threads is
// found, and once that thread has ended, its open files are let go.
func TestOwnChildrenFollowThreads(t *testing.T) {
	end := make(chan struct{})
	cmd, tid := startOnThread(t, end)
	if kids, _ := own.children(); !slices.Contains(kids, cmd.Process.Pid) {
		t.Fatalf("children of ningen's threads %v lack %d, forked by thread %s", kids, cmd.Process.Pid, tid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	close(end)
	gone := "/proc/self/task/" + tid
	for {
		if _, err := os.Stat(gone); err != nil {
			break
		}
		runtime.Gosched() // the thread exits once its goroutine has returned
	}
	if kids, _ := own.children(); slices.Contains(kids, cmd.Process.Pid) {
		t.Errorf("reaped child %d still listed: %v", cmd.Process.Pid, kids)
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	if _, ok := own.open[tid]; ok {
		t.Errorf("the files of ended thread %s are still open", tid)
	}
}

// TestOwnChildrenStaleFile: files left open from a thread that has ended
// read as if it had no child. Put under the id of a live thread with a
// child, as if that thread had taken the dead one's id, they must not hide
// the child.
func TestOwnChildrenStaleFile(t *testing.T) {
	end := make(chan struct{})
	dead, deadTid := startOnThread(t, end)
	var stale threadFile
	own.mu.Lock()
	dir := "/proc/" + strconv.Itoa(os.Getpid()) + "/task/"
	own.openThread(dir, deadTid)
	stale, ok := own.open[deadTid]
	delete(own.open, deadTid)
	own.mu.Unlock()
	if !ok {
		t.Fatalf("could not open the files of thread %s", deadTid)
	}
	_ = dead.Process.Kill()
	_ = dead.Wait()
	close(end)
	for {
		if _, err := os.Stat(dir + deadTid); err != nil {
			break
		}
		runtime.Gosched()
	}
	if b, err := preadAll(stale.children); err != nil || len(b) != 0 {
		t.Fatalf("children of an ended thread read %q, %v; want empty, no error", b, err)
	}

	live, liveTid := startOnThread(t, make(chan struct{}))
	own.mu.Lock()
	own.drop(liveTid)
	own.open[liveTid] = stale
	own.mu.Unlock()
	if kids, _ := own.children(); !slices.Contains(kids, live.Process.Pid) {
		t.Fatalf("a stale file under thread %s hid its child %d: %v", liveTid, live.Process.Pid, kids)
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	var comm [64]byte
	if _, err := unix.Pread(own.open[liveTid].comm, comm[:], 0); err != nil {
		t.Errorf("thread %s kept the stale files: comm: %v", liveTid, err)
	}
}

// TestKillGroupByPidfd: killGroup kills the group that the pidfd's process
// leads, even once that leader is reaped, and through the pidfd of a
// process that leads no group it signals nobody.
func TestKillGroupByPidfd(t *testing.T) {
	pidfd := -1
	cmd := exec.Command("sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd}
	out, err := cmd.Output() // the leader exits; the sleeper stays in its group
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	member, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("member pid %q: %v", out, err)
	}
	memberfd, err := unix.PidfdOpen(member, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(memberfd)
	t.Cleanup(func() { _ = unix.PidfdSendSignal(memberfd, unix.SIGKILL, nil, 0) })

	switch err := killGroup(memberfd); {
	case errors.Is(err, unix.EINVAL):
		t.Skip("needs Linux 6.9+: pidfd_send_signal has no PIDFD_SIGNAL_PROCESS_GROUP")
	case !errors.Is(err, unix.ESRCH):
		t.Fatalf("killGroup through a member that leads no group = %v, want ESRCH", err)
	}
	if err := killGroup(pidfd); err != nil {
		t.Fatalf("killGroup through the reaped leader: %v", err)
	}
	if !waitExit(memberfd, 10*time.Second) {
		t.Fatal("the group's member lives on")
	}
}

// TestCollectedOnce: the child's pid, once reaped, may come back as an
// orphan's; collecting that pid again counts one more holder reaped and
// keeps the child's status, where it used to close the session's exited
// channel a second time, a panic.
func TestCollectedOnce(t *testing.T) {
	s := &Session{pid: 4242, exited: make(chan struct{})}
	s.collected(4242, unix.WaitStatus(7<<8)) // the child exits 7
	s.collected(4242, unix.WaitStatus(0))    // an orphan that got its pid exits 0
	if !s.childReaped || s.reaped.Load() != 2 {
		t.Errorf("after two collections: childReaped %v, reaped %d; want true, 2", s.childReaped, s.reaped.Load())
	}
	if code, ok := s.Status(); !ok || code != 7 {
		t.Errorf("Status = %d, %v; want the child's 7, true", code, ok)
	}
}

// TestKillBelow: a line of 20 shells, each the parent of the next, the
// last one become a sleeper: all below the top die when killUnder is given
// the top, the whole depth at once, not one layer a round.
func TestKillBelow(t *testing.T) {
	script := filepath.Join(t.TempDir(), "line.sh")
	line := `if [ "$1" -gt 0 ]; then sh "$0" $(($1 - 1)) & wait; else echo ready; exec sleep 1000; fi`
	if err := os.WriteFile(script, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", script, "20")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil { // the sleeper is there
		t.Fatal(err)
	}
	var below []int
	for p := cmd.Process.Pid; ; {
		b, err := readProc("/proc/" + strconv.Itoa(p) + "/task/" + strconv.Itoa(p) + "/children")
		kids := appendPids(nil, b)
		if err != nil || len(kids) != 1 {
			break
		}
		p = kids[0]
		below = append(below, p)
	}
	if len(below) != 20 {
		t.Fatalf("the line has %d processes below its top, want 20", len(below))
	}
	var fds []int
	for _, p := range below {
		fd, err := unix.PidfdOpen(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		defer func() { _ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) }()
		fds = append(fds, fd)
	}
	killUnder([]holderNode{{pid: cmd.Process.Pid, fd: -1}})
	for i, fd := range fds {
		if !waitExit(fd, 10*time.Second) {
			t.Fatalf("process %d of the line (pid %d) lives on", i+1, below[i])
		}
	}
}

// TestKillUnderReusedPid: a holder the walk found dies and is reaped, and
// an unrelated process takes its number; the walk must not take that
// process's children for the holder's. The reuse is forced through
// ns_last_pid (root), as a busy host's pid counter wrapping would.
func TestKillUnderReusedPid(t *testing.T) {
	// The file is 0666, but a write needs CAP_CHECKPOINT_RESTORE (or
	// CAP_SYS_ADMIN); writing what it holds changes nothing.
	last, err := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	if err != nil {
		t.Skipf("no /proc/sys/kernel/ns_last_pid: %v", err)
	}
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", last, 0); err != nil {
		t.Skipf("needs root: writing /proc/sys/kernel/ns_last_pid: %v", err)
	}
	gone := exec.Command("sleep", "1000")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	pid := gone.Process.Pid
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	_ = gone.Process.Kill()
	_ = gone.Wait() // reaped: the number is free
	var u *exec.Cmd
	var out *bufio.Reader
	for range 20 {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		c := exec.Command("sh", "-c", `sleep 1000 & echo $!; wait $!; echo $?`)
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a miss kills its sleeper too
		stdout, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			u, out = c, bufio.NewReader(stdout)
			break
		}
		_ = unix.Kill(-c.Process.Pid, unix.SIGKILL)
		_ = c.Wait()
	}
	if u == nil {
		t.Skip("another process took the freed pid first, 20 times")
	}
	defer func() { _ = unix.Kill(-u.Process.Pid, unix.SIGKILL); _ = u.Wait() }()
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sleeper, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	killUnder([]holderNode{{pid: pid, fd: fd}})
	// A SIGKILL sent by the walk would be pending before it returned, and
	// would win over this SIGTERM: the shell reports 137 then, 143 if not.
	if err := unix.Kill(sleeper, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	status, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(status); got != "143" {
		t.Errorf("the unrelated process's child ended with status %s, want 143 (SIGTERM): the walk signalled it", got)
	}
}
