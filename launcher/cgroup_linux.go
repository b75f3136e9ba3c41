//go:build linux

package launcher

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// groupPrefix starts the name of every group ningen makes; the pid that
// made it follows, so a group left by a crash can be told from a live one.
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
}

// Cgroup2Dir finds the cgroup v2 group ningen runs in: the cgroup2 mount
// from /proc/self/mountinfo (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
// hybrid hosts) joined with the 0:: line of /proc/self/cgroup.
func Cgroup2Dir() (string, error) {
	dir, _, err := cgroup2Own()
	return dir, err
}

func cgroup2Own() (dir, rel string, err error) {
	mount, err := cgroup2Mount("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", err
	}
	own, ok := unifiedPath(string(b))
	if !ok {
		return "", "", errors.New("no cgroup v2 entry (0::) in /proc/self/cgroup")
	}
	return filepath.Join(mount, own), own, nil
}

func cgroup2Mount(mountinfo string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mp, ok := parseMountinfo(sc.Text()); ok {
			return mp, nil
		}
	}
	return "", errors.New("no cgroup2 file system is mounted")
}

// parseMountinfo returns the mount point of a cgroup2 line of mountinfo.
// The fields after " - " are the file system type, source and options.
func parseMountinfo(line string) (string, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return "", false
	}
	fs := strings.Fields(post)
	f := strings.Fields(pre)
	if len(fs) == 0 || fs[0] != "cgroup2" || len(f) < 5 {
		return "", false
	}
	return unescapeMount(f[4]), true
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unifiedPath(procCgroup string) (string, bool) {
	for _, line := range strings.Split(procCgroup, "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, true
		}
	}
	return "", false
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
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := groupPrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(suffix)
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
	return &cgroup{dir: dir, rel: filepath.Join(parentRel, name), fd: fd, killer: killer}, nil
}

// CleanStale kills and removes every group under parent that a ningen
// which is no longer running left behind. Holders a crashed session left
// alive die here, on the next start. It returns how many it removed.
func CleanStale(parent string) int {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, ok := groupOwner(e.Name())
		if !e.IsDir() || !ok || ningenAlive(pid) {
			continue
		}
		cg := &cgroup{dir: filepath.Join(parent, e.Name()), fd: -1}
		if cg.kill() == nil && cg.remove() == nil {
			n++
		}
	}
	return n
}

func groupOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, groupPrefix)
	if !ok {
		return 0, false
	}
	pidStr, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	return pid, ok && err == nil && pid > 0
}

// ningenAlive reports whether pid is a running ningen (same executable
// name), so that a reused pid does not keep a stale group alive... or
// spare it.
func ningenAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	self, serr := os.Executable()
	if err != nil || serr != nil {
		return err == nil // alive but unreadable (not ours to judge): keep it
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == filepath.Base(self)
}

// procs lists the processes in the group.
func (c *cgroup) procs() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
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
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	p, ok := unifiedPath(string(b))
	return ok && p == c.rel
}

func (c *cgroup) populated() bool {
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.events"))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte("populated 1"))
}

// kill SIGKILLs every process in the group at once and waits until the
// kernel reports it empty.
func (c *cgroup) kill() error {
	var err error
	if c.killer != nil {
		_, err = c.killer.Write([]byte("1"))
	} else {
		err = os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0)
	}
	if err != nil {
		return fmt.Errorf("write cgroup.kill: %w", err)
	}
	return c.waitEmpty(sweepLimit)
}

// waitEmpty waits for "populated 0", waking on the file-modified events
// cgroup.events raises (POLLPRI) and re-reading at least every 50ms.
func (c *cgroup) waitEmpty(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	fd, err := unix.Open(filepath.Join(c.dir, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(fd)
	}
	for c.populated() {
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still populated after %s", limit)
		}
		if fd < 0 {
			time.Sleep(sweepPause)
			continue
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		_, _ = unix.Poll(fds, 50)
	}
	return nil
}

// remove deletes the group; right after a kill the kernel may still be
// finishing, so it retries for a bounded time.
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
	for i := 0; i < 200; i++ {
		err = unix.Rmdir(c.dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
}

// RunWatchdog is the body of `ningen watchdog`: it waits for the ningen
// with the given pid to exit and then kills and removes the session's group
// dir, which ningen removes itself when it ends normally. It holds no
// secret: it is a fresh exec, started before the session's child.
func RunWatchdog(pid int, dir string) error {
	if os.Getppid() != pid {
		return fmt.Errorf("watchdog: ningen %d is already gone", pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("watchdog: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, -1); n == 1 || (err != nil && !errors.Is(err, unix.EINTR)) {
			break
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return nil // ningen ended the session and removed its group
	}
	cg := &cgroup{dir: dir, fd: -1}
	if err := cg.kill(); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	return cg.remove()
}
