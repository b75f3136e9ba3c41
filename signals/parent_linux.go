//go:build linux

package signals

import (
	"os"

	"golang.org/x/sys/unix"
)

// watchParent calls died once ningen's parent has exited. It waits on a
// pidfd of the parent, so it wakes at once and never mistakes a reused pid.
// As PID 1, or when started by init, there is no parent to watch.
func watchParent(died func(), done <-chan struct{}) {
	ppid := os.Getppid()
	if ppid <= 1 {
		return
	}
	fd, err := unix.PidfdOpen(ppid, unix.PIDFD_NONBLOCK)
	if err != nil {
		pollParent(ppid, died, done)
		return
	}
	if os.Getppid() != ppid { // the parent died before the pidfd pinned it
		unix.Close(fd)
		go died()
		return
	}
	f := os.NewFile(uintptr(fd), "parent-pidfd")
	go func() {
		defer f.Close()
		rc, err := f.SyscallConn()
		if err != nil {
			pollParent(ppid, died, done)
			return
		}
		waited := false
		_ = rc.Read(func(uintptr) bool { // readable means the parent exited
			if waited {
				return true
			}
			waited = true
			return false
		})
		died()
	}()
}
