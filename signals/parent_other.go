//go:build !linux

package signals

import (
	"os"
	"time"
)

// watchParent polls for a new parent pid: there are no pidfds here.
func watchParent(died func(), done <-chan struct{}) {
	ppid := os.Getppid()
	if ppid <= 1 {
		return
	}
	go func() {
		for os.Getppid() == ppid {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		died()
	}()
}
