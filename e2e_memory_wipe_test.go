//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// --- after the wipe, before the exit -----------------------------------------

// TestMemoryScanAfterWipe: once the kill sequence has wiped the vault, and
// before ningen's memory goes away, no copy of any secret is left in it.
//
// How the test gets in between, with no hook in ningen: it starts ningen
// itself (syscall.ForkExec, in a process group of its own), and seizes every
// thread of it with ptrace (root can, though ningen is not dumpable) with
// PTRACE_O_TRACEEXIT. When the child exits, the sequence kills, wipes, prints
// the exit line and calls exit_group; the thread that makes that call stops
// at PTRACE_EVENT_EXIT before it lets go of the address space, so its
// /proc/PID/task/TID/mem still reads all of ningen's memory, wiped.
//
// Every thread, not only the leader: exit_group can come from any thread
// (the Go runtime moves goroutines between threads), and whether the
// threads it kills stop at PTRACE_EVENT_EXIT as well has not been the same
// on every kernel (they do on 6.18); the caller always stops, and it has
// printed the exit line, so the wipe is done. The tracer seizes all threads
// listed in /proc/PID/task until the list holds no new one, and
// PTRACE_O_TRACECLONE attaches the threads they make later. A thread can
// also stop there on its own, before the wipe (the launcher's spawning
// thread, retired with exit(2) once the holders are dead), so the scan is
// made at the stop whose /proc/PID/task/TID/syscall says exit_group, through
// that thread's mem file. Every signal-delivery stop is continued with its
// signal (the runtime's SIGURG, SIGCHLD); every other stop as it is.
//
// Where ningen dies of a signal (a child killed by one) no thread stops at
// all: the test ends the session with the child's exit 0.
func TestMemoryScanAfterWipe(t *testing.T) {
	needRoot(t, "ptrace and /proc/PID/mem on a non-dumpable ningen")
	t.Parallel()
	for _, backing := range backings() {
		t.Run(backing, func(t *testing.T) {
			t.Parallel()
			scanAfterWipe(t, backing, false)
		})
	}
	t.Run("locked-env-delivery", func(t *testing.T) {
		t.Parallel()
		scanAfterWipe(t, "locked", true)
	})
}

// scanAfterWipe runs a session with a secret from every source that needs
// no terminal, F delivered by --env when byEnv is set.
func scanAfterWipe(t *testing.T, backing string, byEnv bool) {
	dir := t.TempDir()
	marker := newMarker(t)
	ctl, ctlW := ctlFIFO(t, dir)
	names := []string{"F", "E", "X", "I", "D"}
	secrets := make([][]byte, len(names))
	for i := range secrets {
		secrets[i] = memSecret(t)
	}
	envVar := "NINGEN_E2E_MEM_" + strings.ToUpper(marker)
	srcR, srcW := mustPipe(t)
	inR, inW := mustPipe(t)
	outR, outW := mustPipe(t)
	errR, errW := mustPipe(t)
	for _, w := range []struct {
		f *os.File
		b []byte
	}{{srcW, secrets[4]}, {inW, secrets[3]}} {
		if _, err := w.f.Write(w.b); err != nil {
			t.Fatal(err)
		}
		w.f.Close()
	}
	argv := []string{ningenBin, "run", "--vault", backing,
		"-s", "F=file:" + writeSecret(t, dir, "f", secrets[0]),
		"-s", "E=env:" + envVar,
		"-s", "X=exec:cat " + writeSecret(t, dir, "x", secrets[2]),
		"-s", "I=stdin",
		"-s", "D=fd:3",
		"--", python, memchildPy(), ctl, marker}
	if byEnv {
		argv = slices.Insert(argv, 2, "--env", "F")
	}
	env := append(os.Environ(), envVar+"="+string(secrets[1]))
	files := []uintptr{inR.Fd(), outW.Fd(), errW.Fd(), srcR.Fd()}

	var atExit struct {
		scan memScan
		err  error
		tid  int
	}
	errS := newStream("stderr", errR)
	tr := startTraced(argv, env, files, func(pid, tid int) {
		// The thread holds the address space until it goes on: read it
		// through that thread, whatever became of the others.
		atExit.tid = tid
		atExit.scan, atExit.err = scanMemory(fmt.Sprintf("/proc/%d/task/%d", pid, tid), secrets)
	})
	for _, f := range []*os.File{srcR, inR, outW, errW} {
		f.Close()
	}
	t.Cleanup(func() { tr.kill(); killMarked(marker) })
	if err := <-tr.attached; err != nil {
		t.Fatalf("seize ningen's threads: %v", err)
	}
	outS := newStream("stdout", outR)
	outS.await(t, "the child", hasPrefix("ready"))
	errS.await(t, "the start line", contains("event=start"))
	proc := "/proc/" + strconv.Itoa(tr.pid)
	t.Logf("tracing %d threads of ningen", tr.threads())

	t.Run("during", func(t *testing.T) {
		sc := mustScan(t, proc, secrets)
		heap := ""
		if byEnv {
			heap = sc.takeHeapCopies(0)
		}
		wantVaultCopies(t, proc, backing, sc, names)
		if heap != "" && !t.Failed() {
			t.Skipf(envHeapDefect, "F", heap)
		}
	})
	tell(t, ctlW, "exit 0")
	select {
	case <-tr.ended:
	case <-time.After(waitLong):
		t.Fatalf("ningen still running %s after its child was told to exit\n%s", waitLong, errS.dump())
	}
	if tr.end.err != nil {
		t.Fatalf("tracing ningen: %v\n%s", tr.end.err, errS.dump())
	}
	if ws := tr.end.status; !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("ningen ended with wait status %#x, want exit 0\n%s", uint32(ws), errS.dump())
	}
	if atExit.tid == 0 {
		t.Fatalf("no thread of ningen stopped at PTRACE_EVENT_EXIT in exit_group (%d): the test could not look between the wipe and the exit; exit stops: %v\n%s",
			unix.SYS_EXIT_GROUP, tr.end.exits, errS.dump())
	}
	if atExit.err != nil {
		t.Fatalf("scan at the exit stop of thread %d: %v", atExit.tid, atExit.err)
	}
	// ningen wrote the wipe and exit lines before it called exit_group.
	errS.awaitEOF(t)
	_, wipe, _ := sequence(t, errS.Lines())
	t.Logf("thread %d stopped in exit_group after %q; read %d KiB in %d mappings; exit stops: %v", atExit.tid, wipe, atExit.scan.read>>10, len(atExit.scan.maps), tr.end.exits)
	heap := ""
	if byEnv {
		heap = atExit.scan.takeHeapCopies(0)
	}
	wantNoCopies(t, "ningen, wiped, at its exit stop", atExit.scan, names)
	if got := len(atExit.scan.unreadableNamed("/secretmem (deleted)")); got != 0 {
		t.Errorf("%d memfd_secret mappings are still there after the wipe", got)
	}
	if f := secretIn(errS.Bytes(), secrets...); f != nil {
		t.Errorf("secret(s) %v on ningen's stderr", f)
	}
	if f := secretIn(outS.Bytes(), secrets...); f != nil {
		t.Errorf("secret(s) %v on ningen's stdout", f)
	}
	if heap != "" && !t.Failed() {
		t.Skipf(envHeapDefect+", after the wipe", "F", heap)
	}
}

// traced is a process the test started and traces, every thread of it.
type traced struct {
	pid      int
	attached chan error    // nil once every thread is seized and set up
	ended    chan struct{} // closed once the process has exited and been reaped
	end      traceEnd      // how, once ended is closed
	mu       sync.Mutex
	nthreads int
}

type traceEnd struct {
	status unix.WaitStatus
	err    error
	exits  []string // each PTRACE_EVENT_EXIT stop: "tid T in syscall N"
}

func (tr *traced) threads() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.nthreads
}

// kill ends the process if it still runs (the tracer reaps it).
func (tr *traced) kill() {
	if tr.pid > 0 {
		_ = syscall.Kill(tr.pid, syscall.SIGKILL)
		select {
		case <-tr.ended:
		case <-time.After(waitLong):
		}
	}
}

// startTraced starts argv with ForkExec and traces it from one goroutine
// locked to its OS thread: ptrace requests must come from the thread that
// attached, and the waits are made there too. onExit runs on that thread
// at the PTRACE_EVENT_EXIT stop of the thread that called exit_group, with
// the process's and that thread's ids.
func startTraced(argv, env []string, files []uintptr, onExit func(pid, tid int)) *traced {
	tr := &traced{attached: make(chan error, 1), ended: make(chan struct{})}
	started := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the tracing
		pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: env, Files: files,
			Sys: &syscall.SysProcAttr{Setpgid: true}})
		started <- pid
		if err != nil {
			tr.attached <- fmt.Errorf("start %s: %w", argv[0], err)
			tr.end = traceEnd{err: err}
			close(tr.ended)
			return
		}
		t := &tracer{pid: pid, threads: map[int]bool{}, onExit: onExit, count: func(n int) {
			tr.mu.Lock()
			tr.nthreads = n
			tr.mu.Unlock()
		}}
		err = t.seizeAll()
		tr.attached <- err
		if err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		tr.end = t.run()
		close(tr.ended)
	}()
	tr.pid = <-started
	return tr
}

// tracer is the state of the tracing thread.
type tracer struct {
	pid      int
	threads  map[int]bool // every thread attached; true once its options are set
	onExit   func(pid, tid int)
	exitSeen bool
	exits    []string
	count    func(int)
	end      *traceEnd // the leader's exit, once reaped
}

const traceOptions = unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_EXITKILL

// seizeAll attaches to every thread in /proc/PID/task and interrupts it to
// set its options, until a pass finds no thread it did not know.
func (t *tracer) seizeAll() error {
	for {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", t.pid))
		if err != nil {
			return err
		}
		added := 0
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			if _, known := t.threads[tid]; known || tid == 0 {
				continue
			}
			switch err := unix.PtraceSeize(tid); {
			case err == nil:
				if err := unix.PtraceInterrupt(tid); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("PTRACE_INTERRUPT %d: %w", tid, err)
				}
			case errors.Is(err, unix.ESRCH): // gone already
				continue
			case errors.Is(err, unix.EPERM) && tid != t.pid:
				// Already ours: made by a thread with PTRACE_O_TRACECLONE,
				// its first stop is on the way.
			default:
				return fmt.Errorf("PTRACE_SEIZE %d: %w", tid, err)
			}
			t.threads[tid] = false
			added++
		}
		for t.unconfigured() {
			if err := t.step(); err != nil {
				return err
			}
			if t.end != nil {
				return fmt.Errorf("ningen exited while being attached to (wait status %#x)", uint32(t.end.status))
			}
		}
		if added == 0 {
			return nil
		}
	}
}

func (t *tracer) unconfigured() bool {
	for _, ok := range t.threads {
		if !ok {
			return true
		}
	}
	return false
}

// run serves stops until the leader is reaped.
func (t *tracer) run() traceEnd {
	for t.end == nil {
		if err := t.step(); err != nil {
			return traceEnd{err: err, exits: t.exits}
		}
	}
	t.end.exits = t.exits
	return *t.end
}

// step waits for one event of the traced process group and answers it.
func (t *tracer) step() error {
	var ws unix.WaitStatus
	tid, err := unix.Wait4(-t.pid, &ws, unix.WALL, nil) // the group is ningen's alone
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wait4: %w", err)
	}
	if ws.Exited() || ws.Signaled() {
		delete(t.threads, tid)
		if tid == t.pid {
			t.end = &traceEnd{status: ws}
		}
		return nil
	}
	if !ws.Stopped() {
		return nil
	}
	defer func() { t.count(len(t.threads)) }()
	if !t.threads[tid] { // its first stop: the interrupt, or a new thread's
		if err := unix.PtraceSetOptions(tid, traceOptions); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("PTRACE_SETOPTIONS %d: %w", tid, err)
		}
		t.threads[tid] = true
	}
	sig := 0
	switch event := int(uint32(ws) >> 16); event {
	case 0: // signal-delivery stop: deliver it
		sig = int(ws.StopSignal())
	case unix.PTRACE_EVENT_CLONE:
		if msg, err := unix.PtraceGetEventMsg(tid); err == nil {
			if _, known := t.threads[int(msg)]; !known {
				t.threads[int(msg)] = false
			}
		}
	case unix.PTRACE_EVENT_EXIT:
		// A thread the runtime retires (the launcher's spawning thread, at
		// the end) leaves with exit(2) and stops here too: only the
		// exit_group(2) that ends the process is the moment after the wipe.
		nr, ok := currentSyscall(t.pid, tid)
		t.exits = append(t.exits, fmt.Sprintf("tid %d in syscall %d (known: %v)", tid, nr, ok))
		if ok && nr == unix.SYS_EXIT_GROUP && !t.exitSeen {
			t.exitSeen = true
			t.onExit(t.pid, tid)
		}
	}
	// PTRACE_EVENT_STOP (interrupt, group stop, a new thread) and the rest:
	// go on as before.
	if err := unix.PtraceCont(tid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("PTRACE_CONT %d: %w", tid, err)
	}
	return nil
}

// currentSyscall is the system call a stopped thread is in, from
// /proc/PID/task/TID/syscall ("231 0x0 ..."; "running" or "-1 ..." when
// there is none).
func currentSyscall(pid, tid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	nr, err := strconv.Atoi(f[0])
	return nr, err == nil
}
