package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Terminal keys, as typed on the master side.
const (
	ctrlC         = "\x03"
	ctrlZ         = "\x1a"
	ctrlBackslash = "\x1c"
)

// startPTY runs argv as the leader of a new session whose controlling
// terminal is a fresh pty; s.out reads the screen (stdout and stderr
// together), s.stdin types on the keyboard.
func startPTY(t *testing.T, marker string, extra []*os.File, argv ...string) *session {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	// A terminal signal key flushes the output queue right after it sends
	// the signal, which can drop the line the child prints in its handler
	// before the test reads it. NOFLSH keeps the queue; signals are as
	// before.
	tio := termiosOf(t, tty)
	tio.Lflag |= unix.NOFLSH
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s on a pty: %v", argv[0], err)
	}
	tty.Close()
	s := &session{t: t, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), marker: marker, pidfd: -1, stdin: master}
	if fd, err := unix.PidfdOpen(s.pid, 0); err == nil {
		s.pidfd = fd
	}
	s.out = newStream("pty", master)
	s.err = s.out
	go func() {
		_ = cmd.Wait()
		s.state = cmd.ProcessState
		close(s.done)
	}()
	t.Cleanup(s.cleanup)
	t.Cleanup(func() { // runs before s.cleanup kills everything
		if t.Failed() {
			t.Logf("at failure:\n%s", describeTerminal(master, marker))
		}
	})
	return s
}

// signalKey types a terminal signal key and waits for the child to report
// the signal. If it does not within a while, the failure says what the
// terminal and the processes looked like, and whether a second press gets
// through (a lost key press, or a signal sent to the wrong group).
func (s *session) signalKey(t *testing.T, key, sig string) {
	t.Helper()
	before := count(s.out.Lines(), "sig "+sig)
	reported := func() func(string) bool {
		seen := 0 // awaitErr shows each line once, under the stream's lock
		return func(l string) bool {
			if strings.Contains(l, "sig "+sig) {
				seen++
			}
			return seen > before
		}
	}
	s.typeKeys(key)
	_, err := s.out.awaitErr(waitLong, reported())
	if err == nil {
		return
	}
	state := describeTerminal(s.stdin, s.marker)
	s.typeKeys(key)
	_, again := s.out.awaitErr(5*time.Second, reported())
	t.Fatalf("typed %q but the child reported no %s (%v); a second press: %v\nstate after the first press:\n%s\n%s",
		key, sig, err, again, state, s.out.dump())
}

// typeKeys writes raw bytes to the terminal, as a keyboard would.
func (s *session) typeKeys(keys string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, keys); err != nil {
		s.t.Fatalf("type on the pty: %v", err)
	}
}

func termiosOf(t *testing.T, f *os.File) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

func foregroundOf(t *testing.T, f *os.File) int {
	t.Helper()
	pg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil {
		t.Fatal(err)
	}
	return pg
}

// TestPTYCtrlC: with ningen leading a terminal session, Ctrl-C and Ctrl-\
// reach the child, exactly once, and do not end the session.
func TestPTYCtrlC(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	s := startPTY(t, marker, nil, append([]string{ningenBin, "run", "--"},
		agentArgs("--trap", "INT,QUIT", "--marker", marker)...)...)
	child := readyPID(t, s.out.await(t, "the child", contains("role=child")))
	startLine := s.out.await(t, "the start line", contains("event=start"))
	if attr(startLine, "interactive") != "true" {
		t.Errorf("start line %q: want interactive=true under a terminal", startLine)
	}
	s.signalKey(t, ctrlC, "SIGINT")
	s.signalKey(t, ctrlBackslash, "SIGQUIT")
	if !alive(s.pid, marker) || !alive(child, marker) {
		t.Fatal("Ctrl-C or Ctrl-\\ ended the session")
	}
	s.send("fg")
	fg := s.out.await(t, "the child's view of the terminal", contains("fg pgrp="))
	if attr(fg, "pgrp") != attr(fg, "own") {
		t.Errorf("the child is not in the terminal's foreground: %q", fg)
	}
	s.send("exit 5")
	wantExit(t, s, s.wait(), 5)
	s.out.awaitEOF(t) // ningen led the session: nobody else holds the pty
	lines := s.out.Lines()
	if n := count(lines, "sig SIGINT"); n != 1 {
		t.Errorf("the child got SIGINT %d times for one Ctrl-C\n%s", n, s.out.dump())
	}
	if n := count(lines, "sig SIGQUIT"); n != 1 {
		t.Errorf("the child got SIGQUIT %d times for one Ctrl-\\\n%s", n, s.out.dump())
	}
	kill, _, _ := sequence(t, lines)
	if attr(kill, "trigger") != "child-exit" {
		t.Errorf("kill line %q, want trigger=child-exit", kill)
	}
}

// jobShell is testdata/e2e/jobshell.py: a job-control shell leading a pty
// session, driven through a control pipe.
type jobShell struct {
	*session
	ctl  *os.File
	rep  *stream
	pgrp int
}

func startJobShell(t *testing.T, marker string) *jobShell {
	t.Helper()
	ctlR, ctlW := mustPipe(t)
	repR, repW := mustPipe(t)
	s := startPTY(t, marker, []*os.File{ctlR, repW}, python, jobshellPy(), marker)
	ctlR.Close()
	repW.Close()
	t.Cleanup(func() { ctlW.Close() })
	sh := &jobShell{session: s, ctl: ctlW, rep: newStream("jobshell", repR)}
	sh.pgrp = intField(t, sh.rep.await(t, "the shell", hasPrefix("shell ")), "pgrp")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shell pgrp %d\n%s", sh.pgrp, sh.rep.dump())
		}
	})
	return sh
}

// describeTerminal is the state of the terminal and of every marked
// process, for failure messages.
func describeTerminal(master *os.File, marker string) string {
	var b strings.Builder
	if pg, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPGRP); err == nil {
		fmt.Fprintf(&b, "terminal foreground group %d\n", pg)
	}
	if tio, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS); err == nil {
		fmt.Fprintf(&b, "termios lflag %#o iflag %#o\n", tio.Lflag, tio.Iflag)
	}
	for _, pid := range marked(marker) {
		st, ppid, _ := procStat(pid)
		pgid, _ := unix.Getpgid(pid)
		fmt.Fprintf(&b, "pid %d ppid %d pgid %d state %c", pid, ppid, pgid, st)
		status, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "Sig") || strings.HasPrefix(l, "ShdPnd") {
				fmt.Fprintf(&b, " %s", strings.ReplaceAll(l, "\t", ""))
			}
		}
		wchan, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan")
		sc, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
		fmt.Fprintf(&b, " wchan %s syscall %s\n", wchan, strings.TrimSpace(string(sc)))
	}
	return b.String()
}

func (sh *jobShell) command(words ...string) {
	sh.t.Helper()
	if _, err := io.WriteString(sh.ctl, strings.Join(words, "\x1f")+"\n"); err != nil {
		sh.t.Fatal(err)
	}
}

// job starts argv as a foreground ("fg") or background ("bg") job and
// returns its pid.
func (sh *jobShell) job(mode string, argv ...string) int {
	sh.t.Helper()
	sh.command(append([]string{mode + " " + argv[0]}, argv[1:]...)...)
	return intField(sh.t, sh.rep.await(sh.t, "the job", hasPrefix("started ")), "pid")
}

func (sh *jobShell) awaitReport(t *testing.T, prefix string, pid int) string {
	t.Helper()
	return sh.rep.await(t, prefix, hasPrefix(prefix+" pid="+strconv.Itoa(pid)+" "))
}

func ningenAgent(marker string, ningenArgs []string, agent ...string) []string {
	args := append(append([]string{ningenBin, "run"}, ningenArgs...), "--")
	return append(args, agentArgs(append(agent, "--marker", marker)...)...)
}

// TestPTYSuspendResume: Ctrl-Z stops the child and ningen with it, as one
// job; fg continues both, the child owns the terminal again, and nothing is
// left stopped.
func TestPTYSuspendResume(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	sh := startJobShell(t, marker)
	ng := sh.job("fg", ningenAgent(marker, nil, "--trap", "INT")...)
	child := readyPID(t, sh.out.await(t, "the child", contains("role=child")))
	sh.out.await(t, "the start line", contains("event=start"))

	sh.typeKeys(ctrlZ)
	stopped := sh.awaitReport(t, "stopped", ng)
	t.Logf("after Ctrl-Z: %s", stopped)
	awaitState(t, child, "the child after Ctrl-Z", func(b byte) bool { return b == 'T' })

	sh.command("cont")
	sh.rep.await(t, "continued", hasPrefix("continued"))
	running := func(b byte) bool { return b != 'T' && b != 't' }
	awaitState(t, ng, "ningen after fg", running)
	awaitState(t, child, "the child after fg", running)

	sh.signalKey(t, ctrlC, "SIGINT")
	sh.send("fg")
	fg := sh.out.await(t, "the child's view of the terminal", contains("fg pgrp="))
	if attr(fg, "pgrp") != attr(fg, "own") {
		t.Errorf("after fg the child is not in the terminal's foreground: %q", fg)
	}
	sh.send("exit 3")
	exited := sh.awaitReport(t, "exited", ng)
	if attr(exited, "code") != "3" {
		t.Errorf("ningen ended %q, want code=3", exited)
	}
	if attr(exited, "fg") != strconv.Itoa(ng) {
		t.Errorf("at ningen's exit the terminal's foreground group was %s, want ningen's %d", attr(exited, "fg"), ng)
	}
	if n := count(sh.out.Lines(), "sig SIGINT"); n != 1 {
		t.Errorf("the child got SIGINT %d times for one Ctrl-C", n)
	}
	awaitDead(t, child, marker, "the child")
}

// TestPTYRawModeRestored: a child that puts the terminal in raw mode and is
// killed leaves it as ningen found it, with ningen's group in the
// foreground, however the session ends.
func TestPTYRawModeRestored(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		end  func(sh *jobShell, ng, child int)
		want string
	}{
		{"child-killed", func(_ *jobShell, _, child int) { _ = syscall.Kill(child, syscall.SIGKILL) }, "code=137"},
		{"ningen-terminated", func(_ *jobShell, ng, _ int) { _ = syscall.Kill(ng, syscall.SIGTERM) }, "signal=15"},
		{"child-exits-raw", func(sh *jobShell, _, _ int) { sh.send("exit 0") }, "code=0"},
		{"second-signal", func(_ *jobShell, ng, _ int) {
			_ = syscall.Kill(ng, syscall.SIGHUP)
			_ = syscall.Kill(ng, syscall.SIGHUP)
		}, "signal=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			sh := startJobShell(t, marker)
			before := termiosOf(t, sh.stdin)
			ng := sh.job("fg", ningenAgent(marker, []string{"--grace", "300ms"}, "--trap", "HUP")...)
			child := readyPID(t, sh.out.await(t, "the child", contains("role=child")))
			sh.out.await(t, "the start line", contains("event=start"))
			sh.send("stty-raw")
			sh.out.await(t, "raw mode", hasPrefix("raw"))
			if termiosOf(t, sh.stdin).Lflag&unix.ECHO != 0 {
				t.Fatal("stty raw -echo had no effect: cannot judge")
			}
			c.end(sh, ng, child)
			exited := sh.awaitReport(t, "exited", ng)
			if !strings.Contains(exited, " "+c.want+" ") {
				t.Errorf("ningen ended %q, want %s", exited, c.want)
			}
			if attr(exited, "fg") != strconv.Itoa(ng) {
				t.Errorf("at ningen's exit the foreground group was %s, want ningen's %d", attr(exited, "fg"), ng)
			}
			for _, f := range []struct {
				name      string
				got, want uint32
			}{
				{"lflag", uint32(intField(t, exited, "lflag")), before.Lflag},
				{"iflag", uint32(intField(t, exited, "iflag")), before.Iflag},
				{"oflag", uint32(intField(t, exited, "oflag")), before.Oflag},
			} {
				if f.got != f.want {
					t.Errorf("terminal %s at ningen's exit %#o, want %#o as before", f.name, f.got, f.want)
				}
			}
			awaitDead(t, child, marker, "the child")
		})
	}
}

// TestPTYBackground: a ningen started in the background of a terminal never
// takes its foreground.
func TestPTYBackground(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	sh := startJobShell(t, marker)
	ng := sh.job("bg", ningenAgent(marker, nil, "--no-stdin")...)
	child := readyPID(t, sh.out.await(t, "the child", contains("role=child")))
	startLine := sh.out.await(t, "the start line", contains("event=start"))
	if attr(startLine, "interactive") != "false" {
		t.Errorf("start line %q: a background ningen must not be interactive", startLine)
	}
	if fg := foregroundOf(t, sh.stdin); fg != sh.pgrp {
		t.Errorf("during a background session the foreground group is %d, want the shell's %d", fg, sh.pgrp)
	}
	if err := syscall.Kill(ng, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := sh.awaitReport(t, "exited", ng)
	if attr(exited, "signal") != "15" {
		t.Errorf("ningen ended %q, want signal=15", exited)
	}
	if attr(exited, "fg") != strconv.Itoa(sh.pgrp) {
		t.Errorf("a background ningen left the foreground to group %s, want the shell's %d", attr(exited, "fg"), sh.pgrp)
	}
	awaitDead(t, child, marker, "the child")
}

// TestPTYBackgroundStops: a background session whose child touches the
// terminal (reads it, or writes under stty tostop) stops as one job, like
// a shell job would, and fg continues it: nothing is left stopped while the
// shell believes the job runs.
func TestPTYBackgroundStops(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		tostop bool
		agent  []string
	}{
		{"reads-terminal", false, nil},
		{"writes-under-tostop", true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			sh := startJobShell(t, marker)
			if c.tostop {
				sh.command("tostop")
				sh.rep.await(t, "tostop", hasPrefix("tostop"))
			}
			ng := sh.job("bg", ningenAgent(marker, nil, c.agent...)...)
			child := awaitMarkedChild(t, ng, marker)
			awaitState(t, child, "the child touching the terminal from the background", func(b byte) bool { return b == 'T' })
			if _, err := sh.rep.awaitErr(waitLong, hasPrefix("stopped pid="+strconv.Itoa(ng)+" ")); err != nil {
				t.Fatalf("the child (pid %d) is stopped by the terminal but ningen (pid %d, state %c) is not: the shell sees a running job that can never go on", child, ng, stateOf(ng))
			}
			sh.command("cont")
			running := func(b byte) bool { return b != 'T' && b != 't' }
			awaitState(t, ng, "ningen after fg", running)
			awaitState(t, child, "the child after fg", running)
			sh.out.await(t, "the child after fg", contains("role=child"))
			sh.send("exit 4")
			exited := sh.awaitReport(t, "exited", ng)
			if attr(exited, "code") != "4" {
				t.Errorf("ningen ended %q, want code=4", exited)
			}
		})
	}
}

// TestPTYForegroundTostop: under stty tostop a foreground session works:
// ningen's own audit lines, written while the child owns the terminal, must
// not stop ningen with SIGTTOU.
func TestPTYForegroundTostop(t *testing.T) {
	t.Parallel()
	marker := newMarker(t)
	sh := startJobShell(t, marker)
	sh.command("tostop")
	sh.rep.await(t, "tostop", hasPrefix("tostop"))
	ng := sh.job("fg", ningenAgent(marker, nil)...)
	sh.send("exit 6") // typed ahead: the child reads it once it runs
	r := sh.rep.await(t, "ningen's end", func(l string) bool {
		return strings.HasPrefix(l, "exited pid="+strconv.Itoa(ng)+" ") || strings.HasPrefix(l, "stopped pid="+strconv.Itoa(ng)+" ")
	})
	if strings.HasPrefix(r, "stopped") {
		t.Fatalf("ningen stopped (%s) in a foreground session under tostop: its audit line, written while the child owns the terminal, drew SIGTTOU\n%s", r, sh.out.dump())
	}
	if attr(r, "code") != "6" {
		t.Errorf("ningen ended %q, want code=6", r)
	}
}

// awaitMarkedChild finds ningen's direct child, child.py, by its marker.
// A process ningen forked that has not exec'd yet carries ningen's argv,
// marker included: only one whose argv starts with python counts.
func awaitMarkedChild(t *testing.T, ng int, marker string) int {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		for _, pid := range marked(marker) {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if _, ppid, ok := procStat(pid); ok && ppid == ng && bytes.HasPrefix(cmdline, []byte(python+"\x00"+childPy())) {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ningen %d started no child within %s", ng, waitLong)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func stateOf(pid int) byte {
	st, _, _ := procStat(pid)
	return st
}
