//go:build linux

package launcher

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var groupNameRE = regexp.MustCompile(`^ningen-[1-9][0-9]*\.[0-9]+-[0-9a-f]{8}$`)

// TestGroupName: a name says who made it (pid and start time) and is
// unique to the session; groupOwner reads back what groupName wrote.
func TestGroupName(t *testing.T) {
	self := os.Getpid()
	a, b := groupName(self), groupName(self)
	if a == b {
		t.Errorf("two sessions of one ningen got the same group name %q", a)
	}
	for _, name := range []string{a, b} {
		if !groupNameRE.MatchString(name) {
			t.Errorf("groupName = %q, want ningen-PID.START-HEX8", name)
		}
		pid, start, ok := groupOwner(name)
		if !ok || pid != self || start != startTime(self) {
			t.Errorf("groupOwner(%q) = %d, %q, %v; want %d, %q, true", name, pid, start, ok, self, startTime(self))
		}
		if !ownerAlive(pid, start) {
			t.Errorf("ownerAlive(%d, %q) = false for the running test", pid, start)
		}
	}
}

// TestGroupOwner: only names exactly as groupName makes them have an owner;
// anything else under the parent group is not ningen's and is left alone.
func TestGroupOwner(t *testing.T) {
	for _, c := range []struct {
		name  string
		pid   int
		start string
		ok    bool
	}{
		{"ningen-123.456-0badc0de", 123, "456", true},
		{"ningen-1.0-00000000", 1, "0", true},
		{"ningen-4194304.18446744073709551615-ffffffff", 4194304, "18446744073709551615", true},
		{"ningen-123-0badc0de", 0, "", false}, // the naming before start times
		{"ningen-123.456", 0, "", false},
		{"ningen-123.456-", 0, "", false},
		{"ningen-123.-0badc0de", 0, "", false},
		{"ningen-123.abc-0badc0de", 0, "", false},
		{"ningen-123.4e5-0badc0de", 0, "", false},
		{"ningen-.456-0badc0de", 0, "", false},
		{"ningen-0.456-0badc0de", 0, "", false},
		{"ningen--5.456-0badc0de", 0, "", false},
		{"ningen-+5.456-0badc0de", 0, "", false},
		{"ningen-0123.456-0badc0de", 0, "", false},
		{"ningen-123.456-0BADC0DE", 0, "", false},
		{"ningen-123.456-0badc0", 0, "", false},
		{"ningen-123.456-0badc0de-x", 0, "", false},
		{"ningen-123.456.7-0badc0de", 0, "", false},
		{"ningen-", 0, "", false},
		{"ningen", 0, "", false},
		{"e2e-ningen-123.456-0badc0de", 0, "", false},
		{"", 0, "", false},
	} {
		pid, start, ok := groupOwner(c.name)
		if ok != c.ok || (ok && (pid != c.pid || start != c.start)) {
			t.Errorf("groupOwner(%q) = %d, %q, %v; want %d, %q, %v", c.name, pid, start, ok, c.pid, c.start, c.ok)
		}
	}
}

// FuzzGroupOwner: a name with an owner is exactly the one groupName would
// make for it.
func FuzzGroupOwner(f *testing.F) {
	for _, s := range []string{"ningen-123.456-0badc0de", "ningen-1.-", "ningen-+1.2-3", groupName(os.Getpid())} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		pid, start, ok := groupOwner(name)
		if !ok {
			return
		}
		if pid <= 0 {
			t.Fatalf("groupOwner(%q): pid %d", name, pid)
		}
		prefix := groupPrefix + strconv.Itoa(pid) + "." + start + "-"
		if len(name) != len(prefix)+8 || name[:len(prefix)] != prefix || !groupNameRE.MatchString(name) {
			t.Fatalf("groupOwner(%q) = %d, %q: not a name groupName makes", name, pid, start)
		}
	})
}

// TestOwnerAlive: the owner must be the same process, not just the same pid.
func TestOwnerAlive(t *testing.T) {
	self := os.Getpid()
	st := startTime(self)
	n, _ := strconv.ParseUint(st, 10, 64)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadPid, deadStart := cmd.Process.Pid, startTime(cmd.Process.Pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for _, c := range []struct {
		name  string
		pid   int
		start string
		want  bool
	}{
		{"itself", self, st, true},
		{"its pid, another start", self, strconv.FormatUint(n+1, 10), false},
		{"its pid, no start", self, "", false},
		{"an exited process", deadPid, deadStart, false},
	} {
		if got := ownerAlive(c.pid, c.start); got != c.want {
			t.Errorf("%s: ownerAlive(%d, %q) = %v, want %v", c.name, c.pid, c.start, got, c.want)
		}
	}
}

// --- real groups (root) ------------------------------------------------------

// testParent makes a group of the test's own under the test process's
// cgroup v2 group, and removes it, with everything in it, at the end.
func testParent(t *testing.T) string {
	t.Helper()
	dir, err := Cgroup2Dir()
	if err != nil {
		t.Skip("needs root: no cgroup v2 group: " + err.Error())
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		t.Skipf("needs root: cgroup v2 group %s is not writable", dir)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, "launcher-test-"+hex.EncodeToString(b))
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Skipf("needs root: cannot make a group under %s: %v", dir, err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(p, "cgroup.kill"), []byte("1"), 0)
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if e.IsDir() {
				_ = groupAt(filepath.Join(p, e.Name())).remove()
			}
		}
		_ = groupAt(p).remove()
	})
	if _, err := os.Stat(filepath.Join(p, "cgroup.kill")); err != nil {
		t.Skip("needs Linux 5.14+: no cgroup.kill")
	}
	return p
}

// sleeperIn starts `sleep 1000` inside group dir and reaps it when it dies;
// the channel is closed then.
func sleeperIn(t *testing.T, dir string, cloneflags ...uintptr) (int, <-chan struct{}) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	for _, f := range cloneflags {
		cmd.SysProcAttr.Cloneflags |= f
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return cmd.Process.Pid, done
}

func mustMkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func dead(t *testing.T, done <-chan struct{}) bool {
	t.Helper()
	select {
	case <-done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

func alive(done <-chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// TestCleanStale: under a real parent group, the group of a ningen that is
// gone and the group of a pid now reused by another process are killed and
// removed; the group of a running ningen, a group of the old naming and a
// group of another name keep their processes.
func TestCleanStale(t *testing.T) {
	parent := testParent(t)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gonePid, goneStart := cmd.Process.Pid, startTime(cmd.Process.Pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	self, selfStart := os.Getpid(), startTime(os.Getpid())
	n, _ := strconv.ParseUint(selfStart, 10, 64)
	// Processes in the parent group, where a ningen stays: one in the
	// initial pid namespace, one that is pid 1 of its own.
	member, _ := sleeperIn(t, parent)
	memberStart := startTime(member)
	inner, _ := sleeperIn(t, parent, syscall.CLONE_NEWPID)
	innerStart := startTime(inner)

	groups := []struct {
		name  string
		stale bool
	}{
		{groupPrefix + strconv.Itoa(gonePid) + "." + goneStart + "-0badc0de", true},
		{groupPrefix + strconv.Itoa(self) + "." + strconv.FormatUint(n+1, 10) + "-0badcafe", true},
		// A dead maker's pid with the start time of a live process that is
		// not it (here forced; a shell started in the same tick, for real).
		{groupPrefix + strconv.Itoa(gonePid) + "." + memberStart + "-0ddba11e", true},
		// A live maker in a pid namespace of its own: pid 1 there.
		{groupPrefix + "1." + innerStart + "-0ddba11f", false},
		{groupName(self), false},
		{groupPrefix + strconv.Itoa(gonePid) + "-0badf00d", false},
		{"not-ningen-" + strconv.Itoa(gonePid) + "." + goneStart + "-00c0ffee", false},
	}
	done := make([]<-chan struct{}, len(groups))
	for i, g := range groups {
		_, done[i] = sleeperIn(t, mustMkdir(t, filepath.Join(parent, g.name)))
	}
	if got := CleanStale(parent); got != 3 {
		t.Errorf("CleanStale = %d, want 3", got)
	}
	for i, g := range groups {
		_, err := os.Stat(filepath.Join(parent, g.name))
		switch {
		case g.stale && !errors.Is(err, os.ErrNotExist):
			t.Errorf("stale group %s: still there (%v)", g.name, err)
		case g.stale && !dead(t, done[i]):
			t.Errorf("stale group %s: its process lives on", g.name)
		case !g.stale && err != nil:
			t.Errorf("group %s was removed: %v", g.name, err)
		case !g.stale && !alive(done[i]):
			t.Errorf("group %s: its process was killed", g.name)
		}
	}
}

// TestKillRemove: cgroup.kill empties a real group of 200 processes and
// remove takes the directory away right after, however long the kernel
// takes to let it go.
func TestKillRemove(t *testing.T) {
	parent := testParent(t)
	dir := mustMkdir(t, filepath.Join(parent, groupName(os.Getpid())))
	var done []<-chan struct{}
	for range 200 {
		_, d := sleeperIn(t, dir)
		done = append(done, d)
	}
	c := groupAt(dir)
	if got := len(c.procs()); got != 200 {
		t.Fatalf("procs = %d, want 200", got)
	}
	if err := c.kill(); err != nil {
		t.Fatal(err)
	}
	if c.populated() {
		t.Error("still populated after kill")
	}
	if err := c.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after remove: %v", dir, err)
	}
	for i, d := range done {
		if !dead(t, d) {
			t.Fatalf("process %d of the group lives on", i)
		}
	}
	b, _ := os.ReadFile(filepath.Join(parent, "cgroup.events"))
	if bytes.Contains(b, []byte("populated 1")) {
		t.Errorf("parent still populated: %s", b)
	}
}

// TestRemoveNested: a group in which a holder made groups of its own (as
// root may), killed, is removed with them.
func TestRemoveNested(t *testing.T) {
	parent := testParent(t)
	dir := mustMkdir(t, filepath.Join(parent, groupName(os.Getpid())))
	inner := mustMkdir(t, filepath.Join(mustMkdir(t, filepath.Join(dir, "a")), "b"))
	_, done := sleeperIn(t, inner)
	c := groupAt(dir)
	if err := c.kill(); err != nil {
		t.Fatal(err)
	}
	if !dead(t, done) {
		t.Fatal("the process in the nested group lives on")
	}
	if err := c.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after remove: %v", dir, err)
	}
}

// TestWaitEmptyDoesNotSpin: while the group stays populated, cgroup.events
// changes (the group is frozen and thawed); the wait must sleep in poll
// between changes, not read the file in a loop. Read through a second
// descriptor, the file keeps the first change pending on the polled one,
// and the wait burns its whole time on the CPU.
func TestWaitEmptyDoesNotSpin(t *testing.T) {
	parent := testParent(t)
	dir := mustMkdir(t, filepath.Join(parent, groupName(os.Getpid())))
	if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err != nil {
		t.Skip("needs Linux 5.2+: no cgroup.freeze")
	}
	sleeperIn(t, dir)
	c := groupAt(dir)
	toggled := make(chan struct{})
	go func() {
		defer close(toggled)
		for i := range 10 {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(strconv.Itoa(1-i%2)), 0)
			time.Sleep(20 * time.Millisecond) // the scenario: changes spread over the wait
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadCPU(t)
	const wait = 400 * time.Millisecond
	if err := c.waitEmpty(wait, nil); err == nil {
		t.Fatal("waitEmpty returned nil for a group that is still populated")
	}
	if used := threadCPU(t) - before; used > wait/4 {
		t.Errorf("waiting %s on a populated group used %s of CPU: it spins", wait, used)
	}
	<-toggled
}

// TestWaitEmptyKillsAgain: a process that joins the group after its
// cgroup.kill, as the child of a fork that slips past the kill would, is
// killed by the wait, which kills again when the group stays populated; a
// wait told not to kill again gives up with the group still populated.
func TestWaitEmptyKillsAgain(t *testing.T) {
	parent := testParent(t)
	dir := mustMkdir(t, filepath.Join(parent, groupName(os.Getpid())))
	c := groupAt(dir)
	_, first := sleeperIn(t, dir)
	if err := c.signalKill(); err != nil {
		t.Fatal(err)
	}
	if !dead(t, first) {
		t.Fatal("cgroup.kill left the first process alive")
	}
	// Moved in rather than cloned in: this kernel may kill a child cloned
	// into a group that was killed before.
	pid, late := sleeperIn(t, parent)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.waitEmpty(300*time.Millisecond, nil); err == nil {
		t.Fatal("waitEmpty without a second kill returned nil with a live member")
	}
	if !alive(late) {
		t.Fatal("the late member died with no second kill")
	}
	if err := c.waitEmpty(10*time.Second, c.signalKill); err != nil {
		t.Fatal(err)
	}
	if !dead(t, late) {
		t.Error("the late member lives on")
	}
}

func threadCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
