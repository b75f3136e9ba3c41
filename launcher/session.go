//go:build unix

package launcher

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/ningen-shikkaku/ningen/vault"
	"golang.org/x/sys/unix"
)

// Errors that decide ningen's exit code before the child runs.
var (
	ErrNotFound      = errors.New("command not found")      // exit 127
	ErrNotExecutable = errors.New("command not executable") // exit 126
)

// Delivery is one secret on its way to the child.
type Delivery struct {
	Name   string
	Mode   Mode
	Secret *vault.Secret
}

// Config says what to start and what to hand it.
type Config struct {
	Args       []string // argv, placeholders already expanded; Args[0] is looked up in PATH
	Env        []string // the child's environment before deliveries are added
	Deliveries []Delivery
	Vault      *vault.Vault
	Stdin      *os.File
	Stdout     *os.File
	Stderr     *os.File
	Track      Tracking // auto when empty
	Watchdog   []string // argv that starts `ningen watchdog`; nil: none
	// Prepared is the cgroup and watchdog made ahead (Prepare); when nil,
	// Start makes them itself, from Track and Watchdog.
	Prepared *Preparation
}

// Tracking is how holders are followed (SPEC §5).
type Tracking string

const (
	TrackAuto      Tracking = "auto"      // cgroup where ningen may make one, else subreaper
	TrackCgroup    Tracking = "cgroup"    // a cgroup v2 group made for the session, killed with cgroup.kill
	TrackSubreaper Tracking = "subreaper" // ningen as child subreaper, sweeping its descendants
)

// ParseTracking checks a --track value.
func ParseTracking(s string) (Tracking, error) {
	switch t := Tracking(s); t {
	case TrackAuto, TrackCgroup, TrackSubreaper:
		return t, nil
	}
	return "", fmt.Errorf("tracking %q: want auto, cgroup or subreaper", s)
}

// Session is one running child and the tree below it.
type Session struct {
	cfg      Config
	pid      int
	pidfd    int       // the child's, -1 without one; closed by Close
	tty      *terminal // nil unless ningen owns the foreground of a terminal
	ownGroup bool
	cg       *cgroup // nil in subreaper mode
	why      string  // why this tracking mode is in force
	pipes    []*os.File
	writers  sync.WaitGroup
	release  chan struct{} // lets the spawning thread go at the end

	reapMu      sync.Mutex
	reaped      atomic.Int64 // holders reaped so far
	killed      map[int]bool // children SIGKILLed by the sweep and not reaped yet; under reapMu
	childReaped bool         // under reapMu
	rounds      int          // of the kill step's sweep; under reapMu
	exited      chan struct{}
	status      unix.WaitStatus
	onExit      func()
	suspended   bool
	ending      atomic.Bool    // the kill sequence has begun: a stopped child no longer suspends ningen
	sweeping    atomic.Bool    // the kill step's sweep runs, and reaps itself
	sweepChld   chan os.Signal // the sweep's SIGCHLD, asked for at the start: see sweep
}

// Resolve finds the command as a shell would, mapping failures to
// ErrNotFound (127) and ErrNotExecutable (126).
func Resolve(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	var pe *os.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotExecutable)
}

// Start delivers the secrets and starts the child. onExit is called once,
// from the reaper, when the child has exited; Status then has its code.
func Start(cfg Config, onExit func()) (*Session, error) {
	s := &Session{cfg: cfg, pidfd: -1, release: make(chan struct{}), exited: make(chan struct{}), onExit: onExit}
	path, err := Resolve(cfg.Args[0])
	if err != nil {
		return nil, err
	}
	prep := cfg.Prepared
	if prep == nil {
		prep = Prepare(cfg.Track, cfg.Watchdog)
	}
	s.cg, s.why, err = prep.take()
	if err == nil {
		// Only now: the watchdog, started by the preparation, must not be
		// adopted by ningen (see startWatchdog).
		err = becomeSubreaper()
	}
	sigchld := prep.sigchld // asked for already
	s.sweepChld = make(chan os.Signal, 1)
	signal.Notify(s.sweepChld, syscall.SIGCHLD) // enabled already: no round trip
	// A start given up from here on leaves nothing behind.
	failed := func(err error) (*Session, error) {
		signal.Stop(sigchld)
		signal.Stop(s.sweepChld)
		s.closePipes()
		s.dropCgroup("")
		return nil, err
	}
	if err != nil {
		return failed(err)
	}
	files, childEnds, err := s.openPipes()
	if err != nil {
		return failed(err)
	}
	env, scrubEnv, err := s.childEnv()
	if err != nil {
		closeAll(childEnds)
		return failed(err)
	}
	s.tty = foregroundTerminal(cfg.Stdin)
	// A ningen started in the background of a terminal leaves the child in
	// its own process group, so the shell's job control (SIGTTIN, fg)
	// covers both; everywhere else the child gets a group of its own.
	s.ownGroup = s.tty != nil || !isTerminal(cfg.Stdin)
	s.pid, err = s.spawn(path, env, files)
	if err != nil && s.cg != nil && cfg.Track != TrackCgroup && !isCommandError(err) {
		s.dropCgroup("clone into cgroup failed: " + err.Error())
		s.pid, err = s.spawn(path, env, files)
	}
	trackGroup(s.pid)
	scrubEnv()
	closeAll(childEnds) // the child has its copies; ningen keeps none
	if err != nil {
		return failed(spawnError(cfg.Args[0], err))
	}
	s.startWriters()
	go s.reapLoop(sigchld)
	go s.jobControl()
	return s, nil
}

// PID is the child's process id.
func (s *Session) PID() int { return s.pid }

// Interactive reports whether the child owns the terminal's foreground.
func (s *Session) Interactive() bool { return s.tty != nil }

// Forward sends sig to the child alone.
func (s *Session) Forward(sig syscall.Signal) {
	s.reapMu.Lock() // the pid stays the child's while it is unreaped
	defer s.reapMu.Unlock()
	select {
	case <-s.exited:
	default:
		_ = signalHolder(s.pid, sig, func(int) bool { return true })
	}
}

// Status is the child's exit code, 128+N when signal N killed it, and
// whether the child has exited at all.
func (s *Session) Status() (int, bool) {
	select {
	case <-s.exited:
	default:
		return 0, false
	}
	if s.status.Signaled() {
		return 128 + int(s.status.Signal()), true
	}
	return s.status.ExitStatus(), true
}

// spawn forks the child from a goroutine locked to its OS thread, and keeps
// that thread alive until Finish: PDEATHSIG fires when the forking thread
// exits, so a thread the runtime retires must never be that parent.
func (s *Session) spawn(path string, env []string, files []uintptr) (int, error) {
	type result struct {
		pid int
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		pidfd := -1
		attr := &syscall.ProcAttr{Env: env, Files: files, Sys: sysProcAttr(s.tty != nil, s.ownGroup, s.cgroupFD(), &pidfd)}
		pid, err := syscall.ForkExec(path, s.cfg.Args, attr)
		if err == nil {
			s.pidfd = pidfd
		}
		done <- result{pid, err}
		if err == nil {
			<-s.release
		}
		// Returning while locked ends the thread, once nothing needs it.
	}()
	r := <-done
	return r.pid, r.err
}

func isCommandError(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.EISDIR)
}

func spawnError(name string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC),
		errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%s: %w: %w", name, ErrNotExecutable, err)
	}
	return fmt.Errorf("start %s: %w", name, err)
}

// childEnv adds NINGEN_FD_<NAME> for each descriptor delivery and the value
// of each env delivery. The values are built in buffers that scrub zeroes
// once the child has its environment.
func (s *Session) childEnv() (env []string, scrub func(), err error) {
	env = withoutVars(s.cfg.Env, s.cfg.Deliveries)
	var bufs [][]byte
	scrub = func() {
		for _, b := range bufs {
			clear(b)
		}
	}
	fd := firstFD
	for _, d := range s.cfg.Deliveries {
		switch d.Mode {
		case ByFD, ByMemfd, BySecretMem:
			env = append(env, fmt.Sprintf("%s%s=%d", FDEnvPrefix, d.Name, fd))
			fd++
		case ByEnv:
			b := make([]byte, len(d.Name)+1+d.Secret.Len())
			copy(b, d.Name+"=")
			if err := s.cfg.Vault.View(d.Secret, func(v []byte) { copy(b[len(d.Name)+1:], v) }); err != nil {
				scrub()
				return nil, nil, err
			}
			bufs = append(bufs, b)
			env = append(env, unsafe.String(&b[0], len(b)))
		}
	}
	return env, scrub, nil
}

// withoutVars drops the variables that an env delivery sets, so the child
// never sees two values for one name.
func withoutVars(env []string, ds []Delivery) []string {
	drop := map[string]bool{}
	for _, d := range ds {
		if d.Mode == ByEnv {
			drop[d.Name] = true
		}
	}
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	return out
}

// openPipes makes the descriptor of each descriptor delivery: a pipe for
// fd, a sealed memfd or a memfd_secret for the others. It returns the
// child's descriptor table (0–2, then the deliveries in order) and the
// child's ends, which the parent closes once the child has started.
func (s *Session) openPipes() (files []uintptr, childEnds []*os.File, err error) {
	files = []uintptr{s.cfg.Stdin.Fd(), s.cfg.Stdout.Fd(), s.cfg.Stderr.Fd()}
	for _, d := range s.cfg.Deliveries {
		if d.Mode == ByMemfd || d.Mode == BySecretMem {
			f, err := s.fileDelivery(d)
			if err != nil {
				closeAll(childEnds)
				s.closePipes()
				return nil, nil, err
			}
			childEnds = append(childEnds, f)
			files = append(files, f.Fd())
			continue
		}
		if d.Mode != ByFD {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(childEnds)
			s.closePipes()
			return nil, nil, fmt.Errorf("pipe for %s: %w", d.Name, err)
		}
		growPipe(w, d.Secret.Len())
		childEnds = append(childEnds, r)
		s.pipes = append(s.pipes, w)
		files = append(files, r.Fd()) // Fd makes the child's end blocking
	}
	return files, childEnds, nil
}

func (s *Session) fileDelivery(d Delivery) (*os.File, error) {
	if d.Mode == ByMemfd {
		return memfdDelivery(d.Name, s.cfg.Vault, d.Secret)
	}
	return secretmemDelivery(d.Name, s.cfg.Vault, d.Secret)
}

// startWriters writes each secret into its pipe from the vault, a chunk at
// a time, without ever blocking while holding the vault open.
func (s *Session) startWriters() {
	i := 0
	for _, d := range s.cfg.Deliveries {
		if d.Mode != ByFD {
			continue
		}
		w := s.pipes[i]
		i++
		s.writers.Add(1)
		go func() {
			defer s.writers.Done()
			_ = s.cfg.Vault.Stream(d.Secret, w)
			_ = w.Close()
		}()
	}
}

// CloseDeliveries stops every writer that is still waiting for the child
// to read and closes the parent's ends. It must run before the vault is
// wiped.
func (s *Session) CloseDeliveries() {
	for _, w := range s.pipes {
		_ = w.SetWriteDeadline(time.Unix(1, 0))
	}
	s.writers.Wait()
	s.closePipes()
}

func (s *Session) closePipes() {
	closeAll(s.pipes)
	s.pipes = nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// reapLoop reaps on every SIGCHLD until the session is finished. It
// first opens what the kill step's look at the tree will read, so that the
// look does not pay for it then.
func (s *Session) reapLoop(sigchld chan os.Signal) {
	defer signal.Stop(sigchld)
	s.reap()
	warmScan()
	for {
		select {
		case <-sigchld:
			for !s.sweeping.Load() && s.reapSome() {
				// a full batch: more may wait, and no SIGCHLD says so
			}
		case <-s.release:
			return
		}
	}
}

// reapBatch bounds how many children one hold of reapMu reaps. A tree that
// forks and exits without pause makes zombies as fast as ningen reaps them;
// an unbounded loop would keep the lock, and the kill step, for as long.
const reapBatch = 64

// reap collects the children that have changed state: the main child's
// exit ends the session, its stop suspends ningen too, and orphans
// reparented to ningen are simply reaped. It reports whether ningen has no
// child left at all, which for the subreaper means the tree is empty.
func (s *Session) reap() (childlessNow bool) {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	childlessNow, _ = s.reapLocked(reapBatch)
	return childlessNow
}

// reapSome is reap for the reaper: it reports whether it stopped at a full
// batch.
func (s *Session) reapSome() (more bool) {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	_, more = s.reapLocked(reapBatch)
	return more
}

// reapLocked is reap with reapMu held, at most n children at a time. The
// main child is asked for first, by its pid: wait4(-1) takes the children
// of ningen's first thread first, where orphans go, so a steady stream of
// them would hide the child's exit, which another thread forked.
func (s *Session) reapLocked(n int) (childlessNow, more bool) {
	select {
	case <-s.exited:
	default:
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(s.pid, &ws, reapFlags, nil); pid == s.pid && err == nil {
			s.collected(pid, ws)
		}
	}
	for range n {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, reapFlags, nil)
		if pid <= 0 || err != nil {
			return err == childless && childless != 0, false
		}
		s.collected(pid, ws)
	}
	return false, true
}

// collected records what one wait reported.
func (s *Session) collected(pid int, ws unix.WaitStatus) {
	if !ws.Stopped() {
		delete(s.killed, pid) // the pid is free again: it may be another's next
	}
	switch {
	case ws.Stopped():
		if pid == s.pid && !s.childReaped {
			s.childStopped()
		} // an orphan's stop is its own business: only deaths matter here
	default:
		s.reaped.Add(1)
		if pid == s.pid && !s.childReaped { // once reaped, its pid may come back as an orphan's
			s.childReaped = true
			s.status = ws
			close(s.exited)
			if s.onExit != nil {
				go s.onExit()
			}
		}
	}
}

// Finish lets go of the spawning thread and the reaper. Call it after the
// holders are dead, and Close before ningen exits.
func (s *Session) Finish() {
	select {
	case <-s.release:
	default:
		close(s.release)
	}
	s.tty.restore()
}

// Close removes the session's cgroup, emptied by Kill, which retires the
// watchdog, and closes the child's pidfd. Its error is the group's
// removal's: the watchdog, left running then, tries again once ningen has
// exited, and a start after that cleans up what it could not.
func (s *Session) Close() error {
	signal.Stop(s.sweepChld)
	if s.pidfd >= 0 {
		_ = syscall.Close(s.pidfd)
		s.pidfd = -1
	}
	if s.cg == nil {
		return nil
	}
	return s.cg.remove()
}

// Tracking says which mode follows the holders, and why.
func (s *Session) Tracking() (mode Tracking, why string) {
	if s.cg != nil {
		return TrackCgroup, s.why
	}
	return TrackSubreaper, s.why
}
