package signals

import (
	"os"
	"time"
)

// pollParent calls died once ningen's parent pid changes, looking ten
// times a second: the fallback where there is no pidfd to wait on.
func pollParent(ppid int, died func(), done <-chan struct{}) {
	go awaitParent(ppid, died, done, func() bool {
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
		}
		return false
	})
}

// awaitParent calls died once ningen's parent pid changes or pause, which
// waits a while, says the parent is gone; it returns without calling died
// once done is closed.
func awaitParent(ppid int, died func(), done <-chan struct{}, pause func() (gone bool)) {
	for os.Getppid() == ppid {
		select {
		case <-done:
			return
		default:
		}
		if pause() {
			break
		}
	}
	died()
}
