//go:build !linux

package signals

import "os"

// watchParent polls for a new parent pid: there are no pidfds here.
func watchParent(died func(), done <-chan struct{}) {
	if ppid := os.Getppid(); ppid > 1 {
		pollParent(ppid, died, done)
	}
}
