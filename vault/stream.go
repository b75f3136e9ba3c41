//go:build unix

package vault

import (
	"os"

	"golang.org/x/sys/unix"
)

// Stream writes the secret to w, which must be in non-blocking mode (a
// pipe from os.Pipe is). The vault is held open only across each write(2);
// between them the runtime's poller waits for room, so a reader that never
// reads never blocks Close, and a deadline set on w ends the wait. Nothing
// is copied out of locked memory but by the kernel.
func (v *Vault) Stream(s *Secret, w *os.File) error {
	rc, err := w.SyscallConn()
	if err != nil {
		return err
	}
	off := 0
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for off < s.Len() {
			var n int
			if verr := v.View(s, func(b []byte) { n, werr = unix.Write(int(fd), b[off:]) }); verr != nil {
				werr = verr
				return true
			}
			if werr == unix.EAGAIN {
				werr = nil
				return false
			}
			if werr != nil {
				return true
			}
			off += n
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return err
}
