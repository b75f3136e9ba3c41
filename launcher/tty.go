//go:build unix

package launcher

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// terminal is the controlling terminal on ningen's stdin, when there is one.
type terminal struct {
	fd       int
	pgrp     int           // ningen's own process group
	saved    *unix.Termios // the settings ningen found, put back at the end
	childSet *unix.Termios // the child's settings while it is suspended
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), getTermios)
	return err == nil
}

// WithoutTTOU runs fn, a write to the terminal, so that it goes through
// even while the child owns the foreground and the terminal has tostop set.
func WithoutTTOU(fn func()) { withTTOUBlocked(fn) }

// foregroundTerminal returns the terminal when stdin is one and ningen's
// process group owns its foreground. A ningen started in the background
// never takes the terminal.
func foregroundTerminal(stdin *os.File) *terminal {
	fd := int(stdin.Fd())
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return nil
	}
	saved, err := unix.IoctlGetTermios(fd, getTermios)
	if err != nil {
		return nil
	}
	return &terminal{fd: fd, pgrp: fg, saved: saved}
}

// setForeground gives the terminal to pgrp. ningen may be in the background
// when it calls this, so SIGTTOU is held off for the call.
func (t *terminal) setForeground(pgrp int) {
	withTTOUBlocked(func() { _ = unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp) })
}

func (t *terminal) foreground() bool {
	fg, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	return err == nil && fg == t.pgrp
}

// restore puts the terminal back as ningen found it: its own process group
// in the foreground, its settings as they were. Safe on a nil terminal.
func (t *terminal) restore() {
	if t == nil {
		return
	}
	t.setForeground(t.pgrp)
	withTTOUBlocked(func() { _ = unix.IoctlSetTermios(t.fd, setTermios, t.saved) })
}

// childStopped runs when the child stops (Ctrl-Z, or a terminal read from
// the background). Like a shell's job, ningen takes the terminal back,
// restores its settings and stops itself, so the shell that started ningen
// regains control. Called with reapMu held.
func (s *Session) childStopped() {
	if s.tty == nil || s.ending.Load() {
		return // once the sequence runs, ningen must not stop before the wipe
	}
	if cs, err := unix.IoctlGetTermios(s.tty.fd, getTermios); err == nil {
		s.tty.childSet = cs
	}
	s.suspended = true
	s.tty.restore()
	_ = unix.Kill(os.Getpid(), unix.SIGTSTP)
}

// jobControl resumes a suspended child when ningen is continued (fg or bg):
// in the foreground it hands the terminal back first.
func (s *Session) jobControl() {
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	defer signal.Stop(cont)
	for {
		select {
		case <-cont:
			s.resume()
		case <-s.release:
			return
		}
	}
}

func (s *Session) resume() {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	if !s.suspended {
		return
	}
	s.suspended = false
	if s.tty != nil && s.tty.foreground() {
		if s.tty.childSet != nil {
			withTTOUBlocked(func() { _ = unix.IoctlSetTermios(s.tty.fd, setTermios, s.tty.childSet) })
		}
		s.tty.setForeground(s.pid)
	}
	_ = unix.Kill(-s.pid, unix.SIGCONT)
}
