package signals

import (
	"os"
	"time"
)

// pollParent calls died once ningen's parent pid changes, looking ten
// times a second: the fallback where there is no pidfd to wait on.
func pollParent(ppid int, died func(), done <-chan struct{}) {
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
