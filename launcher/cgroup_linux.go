//go:build linux

package launcher

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// groupPrefix starts the name of every group ningen makes; the pid and
// start time of the ningen that made it follow, so a group left by a crash
// can be told from a live one.
const groupPrefix = "ningen-"

// cgroup is the cgroup v2 group that holds the child's whole tree. The
// child starts inside it (CLONE_INTO_CGROUP), so no fork can slip out
// before ningen sees it, and cgroup.kill ends all of it in one write.
type cgroup struct {
	dir string // its directory
	rel string // its path as /proc/PID/cgroup shows it
	fd  int    // the directory, for SysProcAttr.CgroupFD
	// killer is cgroup.kill, opened for writing before the session starts:
	// under ningen's seccomp filter no file can be opened for writing.
	killer *os.File
	// watchdog is a pidfd of the watchdog's go-between, whose process
	// group the watchdog is in; -1 when there is none.
	watchdog int
}

// Cgroup2Dir finds the cgroup v2 group ningen runs in: the 0:: line of
// /proc/self/cgroup under the cgroup2 mount of /proc/self/mountinfo
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts), minding a
// mount whose root is not "/".
func Cgroup2Dir() (string, error) {
	dir, _, err := cgroup2Own()
	return dir, err
}

func cgroup2Own() (dir, group string, err error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", err
	}
	group, err = CgroupV2Group(string(self))
	if err != nil {
		return "", "", err
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	_, dir, err = CgroupDir(string(mi), group)
	return dir, group, err
}

// newCgroup makes a fresh group under ningen's own, after cleaning up any
// group a crashed ningen left there. It fails when the hierarchy is not
// writable: not root and no delegated subtree.
func newCgroup() (*cgroup, error) {
	parent, parentRel, err := cgroup2Own()
	if err != nil {
		return nil, err
	}
	if err := unix.Access(parent, unix.W_OK); err != nil {
		return nil, fmt.Errorf("%s is not writable: %w", parent, err)
	}
	if _, err := os.Stat(filepath.Join(parent, "cgroup.procs")); err != nil {
		return nil, err
	}
	CleanStale(parent)
	name := groupName(os.Getpid())
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		_ = os.Remove(dir)
		return nil, errors.New("this kernel has no cgroup.kill (Linux 5.14+)")
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	kfd, err := unix.Open(filepath.Join(dir, "cgroup.kill"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		_ = os.Remove(dir)
		return nil, fmt.Errorf("open cgroup.kill: %w", err)
	}
	killer := os.NewFile(uintptr(kfd), "cgroup.kill")
	return &cgroup{dir: dir, rel: filepath.Join(parentRel, name), fd: fd, killer: killer, watchdog: -1}, nil
}

// groupAt is the group at dir, made by another ningen: nothing of it is
// open here.
func groupAt(dir string) *cgroup { return &cgroup{dir: dir, fd: -1, watchdog: -1} }

// CleanStale kills and removes every group under parent that a ningen
// which is no longer running left behind. Holders a crashed session left
// alive die here, on the next start. It returns how many it removed.
//
// Pids differ between pid namespaces, start times do not: a group's maker
// counts as alive if its pid has that start time, or if a process in the
// parent group (where a ningen stays) has that start time and, in its own
// pid namespace, that pid. The start time alone, in clock ticks, is shared
// by whatever started in the same tick: a shell that started ningen kept
// a crashed session's group, and its holders, alive (a breaker's finding).
// A ningen outside the initial pid namespace, which may not see the makers
// at all, judges none.
func CleanStale(parent string) int {
	if !initialPidNamespace() {
		return 0
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	n := 0
	var starts map[string][]int
	for _, e := range entries {
		pid, start, ok := groupOwner(e.Name())
		if !e.IsDir() || !ok || ownerAlive(pid, start) {
			continue
		}
		if starts == nil {
			starts = startTimes(filepath.Join(parent, "cgroup.procs"))
		}
		if madeBy(starts, pid, start) {
			continue
		}
		cg := groupAt(filepath.Join(parent, e.Name()))
		if cg.kill() == nil && cg.remove() == nil {
			n++
		}
	}
	return n
}

// groupName is ningen-PID.START-RANDOM: START is the owner's start time
// (field 22 of /proc/PID/stat), so that a reused pid never passes for the
// ningen that made the group.
func groupName(pid int) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return groupPrefix + strconv.Itoa(pid) + "." + startTime(pid) + "-" + hex.EncodeToString(suffix)
}

// groupOwner reads the maker back from a name exactly as groupName makes
// it. Any other name, even one that starts alike, is not known to be
// ningen's: it has no owner, and CleanStale leaves it alone.
func groupOwner(name string) (pid int, start string, ok bool) {
	rest, ok := strings.CutPrefix(name, groupPrefix)
	pidStr, rest, ok1 := strings.Cut(rest, ".")
	start, suffix, ok2 := strings.Cut(rest, "-")
	if !ok || !ok1 || !ok2 || !isDecimal(pidStr) || pidStr[0] == '0' || !isDecimal(start) ||
		len(suffix) != 8 || strings.Trim(suffix, "0123456789abcdef") != "" {
		return 0, "", false
	}
	pid, err := strconv.Atoi(pidStr)
	return pid, start, err == nil
}

func isDecimal(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// ownerAlive reports whether the process that made a group is still
// running: same pid, same start time.
func ownerAlive(pid int, start string) bool {
	st := startTime(pid)
	return st != "" && st == start
}

// startTimes lists the processes in a cgroup.procs file by start time;
// the "" entry stands for "cannot tell", which calls every group alive.
func startTimes(procs string) map[string][]int {
	b, err := os.ReadFile(procs)
	starts := map[string][]int{}
	if err != nil {
		starts[""] = nil
		return starts
	}
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			if st := startTime(pid); st != "" { // "": gone since it was listed
				starts[st] = append(starts[st], pid)
			}
		}
	}
	return starts
}

// madeBy reports whether one of starts, listed by startTimes, is the maker
// with that start time and, in its own pid namespace, that pid. Only the
// processes that started in the maker's clock tick are read again.
func madeBy(starts map[string][]int, pid int, start string) bool {
	if _, unknown := starts[""]; unknown {
		return true
	}
	for _, p := range starts[start] {
		if ownPid(p) == pid {
			return true
		}
	}
	return false
}

// ownPid is pid as the process sees itself: the last NSpid of its
// status, or pid where there is none (Linux before 4.1).
func ownPid(pid int) int {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return pid
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
					return n
				}
			}
		}
	}
	return pid
}

// initialPidNamespace reports whether ningen runs in the host's pid
// namespace, whose inode number is fixed (PROC_PID_INIT_INO).
func initialPidNamespace() bool {
	var st unix.Stat_t
	return unix.Stat("/proc/self/ns/pid", &st) == nil && st.Ino == 0xEFFFFFFC
}

// startTime is field 22 of /proc/PID/stat, "" when pid is gone.
func startTime(pid int) string {
	f, ok := statFields(pid) // f[0] is field 3
	if !ok || len(f) < 20 {
		return ""
	}
	return string(f[19])
}

// procs lists the processes in the group.
func (c *cgroup) procs() []int {
	b, err := readProc(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// contains reports whether pid is in the group now.
func (c *cgroup) contains(pid int) bool {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	p, err := CgroupV2Group(string(b))
	return err == nil && p == c.rel
}

func (c *cgroup) populated() bool {
	fd, err := c.openEvents()
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return populatedAt(fd)
}

func (c *cgroup) openEvents() (int, error) { return openProc(filepath.Join(c.dir, "cgroup.events"), 0) }

// populatedAt reads cgroup.events through fd. A poll on fd reports an event
// until fd itself has read the file since: read through another descriptor,
// every poll after the first change returns at once, and the wait spins.
func populatedAt(fd int) bool {
	var buf [256]byte
	n, err := unix.Pread(fd, buf[:], 0)
	return err == nil && bytes.Contains(buf[:n], []byte("populated 1"))
}

// kill SIGKILLs every process in the group at once and waits until the
// kernel reports it empty.
func (c *cgroup) kill() error {
	if err := c.signalKill(); err != nil {
		return err
	}
	return c.waitEmpty(sweepLimit, c.signalKill)
}

// signalKill writes cgroup.kill: once it returns, every process in the
// group, and any fork racing with the write, is bound to die of SIGKILL.
func (c *cgroup) signalKill() error {
	var err error
	if c.killer != nil {
		_, err = c.killer.Write([]byte("1"))
	} else {
		err = os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0)
	}
	if err != nil {
		return fmt.Errorf("write cgroup.kill: %w", err)
	}
	return nil
}

// waitEmpty waits for "populated 0", waking on the file-modified events
// cgroup.events raises (POLLPRI). When again is not nil, a wait with no
// event while the group is still populated calls it, to kill once more: a
// fork the kernel lets through as a cgroup.kill ends can leave a live
// process in the group (the parent passed the fork's last check for a
// pending SIGKILL before the kill reached it, and the child joined once
// the kill had gone past), and a tree that forks without pause can meet
// that window; a run of the fork-exit chains test once kept a killed group
// populated for the whole 10s.
func (c *cgroup) waitEmpty(limit time.Duration, again func() error) error {
	deadline := time.Now().Add(limit)
	fd, err := c.openEvents()
	if err != nil {
		return nil // no events file: the group is gone, as populated() would say
	}
	defer unix.Close(fd)
	pause := rekillPause
	for populatedAt(fd) {
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still populated after %s", limit)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if n, _ := unix.Poll(fds, int(pause/time.Millisecond)); n == 0 && again != nil && populatedAt(fd) {
			if err := again(); err != nil {
				return err
			}
			pause = min(2*pause, 500*time.Millisecond)
		}
	}
	return nil
}

// rekillPause is how long waitEmpty first lets a killed group take to
// empty before it kills again; the pause doubles at each kill, since a big
// group takes a while to die.
const rekillPause = 20 * time.Millisecond

// remove deletes the group, and then retires its watchdog; right after a
// kill the kernel may still be finishing, so it retries for a bounded time.
// A group it cannot remove keeps its watchdog, which tries again once
// ningen has exited.
func (c *cgroup) remove() error {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	if c.killer != nil {
		_ = c.killer.Close()
		c.killer = nil
	}
	var err error
	pause := 100 * time.Microsecond
	for deadline := time.Now().Add(time.Second); ; pause = min(2*pause, 10*time.Millisecond) {
		err = unix.Rmdir(c.dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			c.retireWatchdog()
			return nil
		}
		if errors.Is(err, unix.EBUSY) {
			removeNested(c.dir) // groups a holder made inside (root): killed with it, empty now
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			break
		}
		time.Sleep(pause)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
}

// removeNested removes the groups below dir, the deepest first. cgroup.kill
// of dir killed everything in them too.
func removeNested(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			sub := filepath.Join(dir, e.Name())
			removeNested(sub)
			_ = unix.Rmdir(sub)
		}
	}
}

// startWatchdog starts `ningen watchdog` (argv): a process with no secret,
// outside the group, that kills and removes the group if ningen dies
// without doing so itself (SIGKILL, OOM). It is best effort: if it cannot
// start, PDEATHSIG still takes the direct child, and the next start cleans
// up the group.
//
// It watches ningen through a pidfd that ningen opens on itself, so no pid
// can be reused under it, and it is no child of ningen's: a short-lived
// go-between (/bin/sh, or else ningen itself with --detach) starts it, in
// a session and process group of the go-between's own, and exits; ningen
// waits for that exit before it makes itself the subreaper (Start). The
// watchdog is then adopted by ningen's own nearest subreaper, or init, and
// ningen's children are its holders and nothing else: a wait's ECHILD
// proves the tree empty, with no list to read and no process to leave out
// of it. ningen keeps a pidfd of the go-between, which names that process
// group even once the go-between is reaped, to retire the watchdog when the
// group is gone (remove). A ningen that is the first process of a pid
// namespace (a container's) would adopt the watchdog, and starts none: when
// it dies, the kernel kills every process in its namespace.
//
// The watchdog gets no descriptor of the caller's: its standard streams
// are /dev/null. One that held ningen's stderr kept a caller reading it to
// the end waiting for as long as a holder kept the watchdog stopped.
func (c *cgroup) startWatchdog(argv []string) {
	if len(argv) == 0 || os.Getpid() == 1 || notSubreaper() != nil {
		return
	}
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return
	}
	defer unix.Close(self)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer devnull.Close()
	path, args := goBetween(append(append([]string(nil), argv...), watchdogFlags(os.Getpid(), c.dir)...))
	null := devnull.Fd()
	gb := -1
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{
		Files: []uintptr{null, null, null, uintptr(self)}, // self is watchdogFlags' descriptor 3
		Sys:   &syscall.SysProcAttr{Setsid: true, PidFD: &gb},
	})
	if err != nil {
		return
	}
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	c.watchdog = gb
}

// retireWatchdog SIGKILLs the watchdog, through its go-between's process
// group (Linux 6.9+; before that it ends on its own once ningen has
// exited). Only the watchdog is in that group, and the pidfd never names
// a group that took the number since.
func (c *cgroup) retireWatchdog() {
	if c.watchdog < 0 {
		return
	}
	_ = killGroup(c.watchdog)
	unix.Close(c.watchdog)
	c.watchdog = -1
}

// shell runs argv in the background and exits: the quickest go-between,
// about a quarter of a millisecond more than a bare exec, where another
// exec of ningen costs a Go start, about two.
var shell = "/bin/sh"

// watchdogFlags are the flags of `ningen watchdog` for the ningen pid and
// its group dir, with ningen's pidfd as descriptor 3.
func watchdogFlags(pid int, dir string) []string {
	return []string{"--pid", strconv.Itoa(pid), "--cgroup", dir, "--pidfd", "3"}
}

// goBetween is what ningen starts so that argv runs as its grandchild,
// whose parent has exited.
func goBetween(argv []string) (string, []string) {
	if unix.Access(shell, unix.X_OK) == nil {
		return shell, append([]string{shell, "-c", `"$@" &`, "sh"}, argv...)
	}
	return argv[0], append(argv, "--detach")
}

// RunWatchdog is the body of `ningen watchdog`: it waits for the ningen
// with the given pid to exit, watched through pidfd, ningen's own, and then
// kills and removes the session's group dir, which ningen removes itself
// when it ends normally. It holds no secret: it is a fresh exec, started
// before the session's child. A ningen that is gone before the watchdog
// gets to watch it has its group killed at once.
//
// With detach it is the go-between of startWatchdog: it starts itself
// again without detach, with pidfd as descriptor 3, and returns.
func RunWatchdog(pid int, dir string, pidfd int, detach bool) error {
	if owner, _, ok := groupOwner(filepath.Base(dir)); !ok || owner != pid {
		return fmt.Errorf("watchdog: %s is not a group of ningen %d", dir, pid)
	}
	if detach {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("watchdog: %w", err)
		}
		args := append([]string{exe, "watchdog"}, watchdogFlags(pid, dir)...)
		if _, err := syscall.ForkExec(exe, args, &syscall.ProcAttr{Files: []uintptr{0, 1, 2, uintptr(pidfd)}}); err != nil {
			return fmt.Errorf("watchdog: start: %w", err)
		}
		return nil
	}
	if !waitExit(pidfd, -1) {
		return fmt.Errorf("watchdog: descriptor %d is no pidfd", pidfd)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil // ningen ended the session and removed its group
	}
	cg := groupAt(dir)
	if err := cg.kill(); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	return cg.remove()
}
