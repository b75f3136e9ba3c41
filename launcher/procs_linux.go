//go:build linux

package launcher

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

func sysProcAttr(foreground, ownGroup bool, cgroupFD int, pidfd *int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:     ownGroup,
		Foreground:  foreground,
		Ctty:        0, // the child's stdin is the terminal
		Pdeathsig:   syscall.SIGKILL,
		UseCgroupFD: cgroupFD >= 0,
		CgroupFD:    cgroupFD,
		PidFD:       pidfd,
	}
}

// killGroup SIGKILLs, at once, every process in the process group that
// the child leads, through the child's pidfd: the kernel signals the group
// whose id is the pidfd's own pid, as one act, so a fork in progress in
// the group either fails or its child is signalled too. The pidfd names
// the child's pid itself, not its number, so it works after the child is
// reaped and never reaches a group that took the number since. It fails
// with EINVAL before Linux 6.9, and with ESRCH where no process is in the
// group; the sweep goes on either way.
func killGroup(pidfd int) error {
	if pidfd < 0 {
		return unix.EBADF
	}
	return unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
}

// notSubreaper clears the subreaper mark that whoever exec'd ningen may
// have left on it.
func notSubreaper() error { return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) }

// becomeSubreaper makes every orphan in the child's tree ningen's child.
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return &os.SyscallError{Syscall: "prctl PR_SET_CHILD_SUBREAPER", Err: err}
	}
	return nil
}

// growPipe asks for a pipe buffer that holds the whole secret, so that the
// write completes at once when the kernel allows it. Failure only means the
// writer waits for the child to read.
func growPipe(w *os.File, n int) {
	if n <= 64<<10 {
		return
	}
	if rc, err := w.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, n) })
	}
}

// tree is one look at the process table: every descendant of ningen.
type tree struct {
	live    []int        // not zombies, nor gone since they were listed
	members map[int]bool // ningen and every descendant
}

func (t tree) self() int { return os.Getpid() }

// ours reports whether pid is ningen or one of its descendants.
func (t tree) ours(pid int) bool { return t.members[pid] }

// childless is what the reaper's last wait says when ningen has no child
// at all, live or dead: as the subreaper, then, it has no descendant either.
const childless = unix.ECHILD

// reapFlags: collect without blocking, report the child's stops, and take
// children of any exit signal (__WALL).
const reapFlags = unix.WNOHANG | unix.WUNTRACED | unix.WALL

// scanTree walks down from ningen. Where the kernel lists each thread's
// children (CONFIG_PROC_CHILDREN) it reads only the tree itself; otherwise
// it reads every /proc/PID/stat once.
func scanTree() tree {
	if haveChildren() {
		return walkChildren()
	}
	return walkAll()
}

var haveChildren = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/children")
	return err == nil
})

func walkChildren() tree {
	return walk(func(pid int) []int {
		if pid == os.Getpid() {
			kids, _ := own.children()
			return kids
		}
		return childrenOf(pid)
	}, stateOf)
}

// walk goes breadth first down from ningen, asking children for each
// member's children and state for each new one's state. The watchdog is
// never a member.
func walk(children func(int) []int, state func(int) byte) tree {
	self := os.Getpid()
	t := tree{members: map[int]bool{self: true}}
	queue := []int{self}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children(p) {
			if t.members[c] {
				continue
			}
			t.members[c] = true
			queue = append(queue, c)
			t.add(c, state(c))
		}
	}
	return t
}

// childrenOf lists pid's children from every one of its threads: a child
// belongs to the thread that forked it.
func childrenOf(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := readNames(dir)
	if err != nil {
		return nil
	}
	var kids []int
	for _, tid := range tasks {
		b, err := readProc(dir + tid + "/children")
		if err != nil {
			continue
		}
		kids = appendPids(kids, b)
	}
	return kids
}

func appendPids(pids []int, b []byte) []int {
	for _, f := range bytes.Fields(b) {
		if p, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// killChildren is one round of the sweep: under reapMu, it lists ningen's
// children, SIGKILLs each one not signalled yet, and reaps. Only the
// reaper reaps, and only under reapMu, so every pid listed here is still
// that child's, live or zombie, when it is signalled: no pidfd and no check
// of its parent is needed. The newest children come last in the list and
// are the likeliest to be about to fork, so they are signalled first. A
// round reaps as many as it signalled (at least reapBatch), not every
// zombie there is: a tree that forks and exits without pause makes zombies
// as fast as ningen reaps them, and the next kill would wait. It returns
// how many it signalled and how many children it listed; none listed is
// proof that the tree is empty, since zombies are listed too and none is
// reaped while the list is read.
func (s *Session) killChildren() (signalled, left int) {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	kids, exact := ownChildren()
	if s.killed == nil {
		s.killed = map[int]bool{}
	}
	var fresh []holderNode // unreaped children of ningen: their numbers are their own
	for _, pid := range slices.Backward(kids) {
		left++
		if !s.killed[pid] && unix.Kill(pid, unix.SIGKILL) == nil {
			s.killed[pid] = true
			fresh = append(fresh, holderNode{pid: pid, fd: -1})
		}
	}
	signalled = len(fresh)
	if s.rounds++; s.rounds > 1 {
		killUnder(fresh)
	}
	if childlessNow, _ := s.reapLocked(max(signalled, reapBatch)); childlessNow {
		return signalled, 0
	}
	if left == 0 && !exact {
		left = 1 // no proof: look again
	}
	return signalled, left
}

// holderNode is a holder the walk has found: its pid, and a pidfd that
// names it whatever becomes of the number (-1 for a child of ningen's not
// yet reaped, whose number cannot change hands).
type holderNode struct{ pid, fd int }

// same reports whether n's number is still n's: a pid is freed only when
// its process is reaped, after which its pidfd signals nothing.
func (n holderNode) same() bool {
	return n.fd < 0 || unix.PidfdSendSignal(n.fd, 0, nil, 0) == nil
}

// killUnder SIGKILLs every live descendant of nodes, children of ningen
// just SIGKILLed themselves. A round kills one layer of the tree by pid; a
// tree deeper than that, whose bottom keeps forking, would grow as fast as
// the rounds take its top away. The walk finds each process in its first
// thread's children file (one that another thread forked reaches ningen
// anyway when its parent dies) and holds a pidfd to it, and signals once
// the walk is done, walkBatch at a time: a process killed before its
// children file is read may hand them on first, and the walk below it
// would end there. The first round does without: most trees are a child
// and its processes, which come to ningen one round later with the
// child's death, and a walk of them all then would cost more than the
// kill.
//
// A child listed in n's children file is taken only if its own stat names
// n's pid, or ningen's (it was handed over meanwhile), as its parent, and
// only if n still held its number after that: so a number that changed
// hands while the walk ran never leads it to a process outside the tree.
func killUnder(nodes []holderNode) {
	self := os.Getpid()
	seen := map[int]bool{self: true}
	for _, n := range nodes {
		seen[n.pid] = true
	}
	var held []int
	signalled := 0
	kill := func() {
		for _, fd := range held[signalled:] {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
		signalled = len(held)
	}
	defer func() {
		kill()
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for queue := nodes; len(queue) > 0; {
		n := queue[0]
		queue = queue[1:]
		b, err := readProc("/proc/" + strconv.Itoa(n.pid) + "/task/" + strconv.Itoa(n.pid) + "/children")
		if err != nil || !n.same() {
			continue
		}
		for _, c := range appendPids(nil, b) {
			if seen[c] {
				continue
			}
			fd, err := holderFD(c, func(pp int) bool { return pp == n.pid || pp == self })
			if err != nil {
				continue
			}
			if !n.same() {
				unix.Close(fd)
				break
			}
			seen[c] = true
			if held = append(held, fd); len(held)-signalled == walkBatch {
				kill()
			}
			queue = append(queue, holderNode{pid: c, fd: fd})
		}
	}
}

// walkBatch is how many holders the walk finds before it signals them.
const walkBatch = 256

// holderFD opens a pidfd to pid and checks, with it held, that its parent
// is ours: the pidfd then names that holder, whatever its number becomes.
func holderFD(pid int, ours func(int) bool) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	if ppid, _, ok := readStat(pid); !ok || !ours(ppid) {
		unix.Close(fd)
		return -1, errNotOurs
	}
	return fd, nil
}

// ownChildren lists every child of ningen, and says whether the list is
// exact: read from the children files of a set of ningen's threads that
// did not change while they were read (a thread that exits hands its
// children to another, which may have been read already). Without those
// files it is one walk of /proc, which is never exact: the sweep then ends
// only when a wait says ningen has no child at all.
func ownChildren() (kids []int, exact bool) {
	if !haveChildren() {
		kids, _ := procTable()
		return kids[os.Getpid()], false
	}
	return own.children()
}

// warmScan opens the files of ningen's threads that a look at the tree
// reads.
func warmScan() {
	if haveChildren() {
		own.children()
	}
}

// own keeps the children file of each of ningen's threads open. Every look
// at the tree starts there, and reading an open file again (pread) costs a
// tenth of opening, reading and closing it.
var own = threadFiles{open: map[string]threadFile{}}

type threadFiles struct {
	mu   sync.Mutex
	open map[string]threadFile // by thread id
}

type threadFile struct{ children, comm int }

// children lists the children of all of ningen's threads. A thread's files
// read empty, not failing, once it has exited; its comm file then fails
// (ESRCH), which tells a file left from a dead thread from a thread with no
// child, even when a new thread has taken the old one's id.
func (o *threadFiles) children() (kids []int, stable bool) {
	dir := "/proc/" + strconv.Itoa(os.Getpid()) + "/task/"
	tids, err := readNames(dir)
	if err != nil {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	listed := map[string]bool{}
	stable = true
	for _, tid := range tids {
		listed[tid] = true
		b, ok := o.read(tid)
		if !ok { // a file from an earlier thread of that id, or none yet
			o.drop(tid)
			o.openThread(dir, tid)
			b, ok = o.read(tid)
		}
		if ok {
			kids = appendPids(kids, b)
		} else {
			stable = false
		}
	}
	for tid := range o.open {
		if !listed[tid] {
			o.drop(tid)
		}
	}
	after, err := readNames(dir)
	return kids, stable && err == nil && slices.Equal(tids, after)
}

// read preads tid's children, then checks with its comm that the thread was
// alive during that read.
func (o *threadFiles) read(tid string) ([]byte, bool) {
	f, ok := o.open[tid]
	if !ok {
		return nil, false
	}
	b, err := preadAll(f.children)
	if err != nil {
		return nil, false
	}
	var comm [64]byte
	if _, err := unix.Pread(f.comm, comm[:], 0); err != nil {
		return nil, false
	}
	return b, true
}

func (o *threadFiles) openThread(dir, tid string) {
	c, err := openProc(dir+tid+"/children", 0)
	if err != nil {
		return
	}
	m, err := openProc(dir+tid+"/comm", 0)
	if err != nil {
		unix.Close(c)
		return
	}
	o.open[tid] = threadFile{children: c, comm: m}
}

func (o *threadFiles) drop(tid string) {
	if f, ok := o.open[tid]; ok {
		unix.Close(f.children)
		unix.Close(f.comm)
		delete(o.open, tid)
	}
}

func stateOf(pid int) byte {
	_, st, ok := readStat(pid)
	if !ok {
		return 'X' // gone since it was listed
	}
	return st
}

func (t *tree) add(pid int, state byte) {
	if state != 'Z' && state != 'X' { // X: gone since it was listed
		t.live = append(t.live, pid)
	}
}

// walkAll reads the parent of every process and walks down from ningen.
func walkAll() tree {
	kids, states := procTable()
	return walk(func(p int) []int { return kids[p] }, func(c int) byte { return states[c] })
}

// procTable reads the parent and state of every process.
func procTable() (kids map[int][]int, states map[int]byte) {
	kids, states = map[int][]int{}, map[int]byte{}
	names, _ := readNames("/proc")
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if ppid, st, ok := readStat(pid); ok {
			kids[ppid] = append(kids[ppid], pid)
			states[pid] = st
		}
	}
	return kids, states
}

// readNames lists a /proc directory. It and readProc use the system calls
// directly, without an *os.File: a sweep makes thousands of them, and the
// file's poller registration and cleanup cost more than the read.
func readNames(dir string) ([]string, error) {
	fd, err := openProc(dir, unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return nil, &os.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// readProc reads a whole /proc file.
func readProc(path string) ([]byte, error) {
	fd, err := openProc(path, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b, err := preadAll(fd)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return b, nil
}

// preadAll reads a whole /proc file from its start: a seq_file made again
// at every read from offset 0, so an open one reads as new.
func preadAll(fd int) ([]byte, error) {
	b := make([]byte, 0, 512)
	for {
		n, err := unix.Pread(fd, b[len(b):cap(b)], int64(len(b)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return b, nil
		}
		b = b[:len(b)+n]
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

func openProc(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// readStat returns the parent and state of pid from /proc/PID/stat.
func readStat(pid int) (ppid int, state byte, ok bool) {
	f, ok := statFields(pid)
	if !ok || len(f) < 2 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, f[0][0], err == nil
}

// statFields returns /proc/PID/stat from field 3 (the state) on: the
// command name before it may hold spaces and parentheses, so the split
// starts after the last ')'.
func statFields(pid int) ([][]byte, bool) {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	f := bytes.Fields(b[i+1:])
	return f, len(f) > 0
}

// errNotOurs says a pid no longer belongs to the tree: it was reused.
var errNotOurs = errors.New("process is no longer a holder")

// signalHolder signals pid through a pidfd, after checking, with the pidfd
// held, that its parent is still ningen or a holder. A pid that died and
// was reused by an unrelated process is never signalled.
func signalHolder(pid int, sig syscall.Signal, ours func(int) bool) error {
	fd, err := holderFD(pid, ours)
	if errors.Is(err, unix.ENOSYS) {
		return signalRacy(pid, sig, ours)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// signalRacy is for kernels before 5.3, which have no pidfds: the check and
// the kill are two steps, so a pid reused in between could be hit.
func signalRacy(pid int, sig syscall.Signal, ours func(int) bool) error {
	ppid, _, ok := readStat(pid)
	if !ok || !ours(ppid) {
		return errNotOurs
	}
	return unix.Kill(pid, sig)
}

// trackGroup is only needed where the process table cannot be walked.
func trackGroup(int) {}
