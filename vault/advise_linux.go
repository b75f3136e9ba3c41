//go:build linux

package vault

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// adviseNoDump keeps the pages out of core dumps (G3). One advice per call:
// OR-ing advice values silently asks for something else.
func adviseNoDump(b []byte) error {
	if err := unix.Madvise(b, unix.MADV_DONTDUMP); err != nil {
		return fmt.Errorf("madvise MADV_DONTDUMP: %w", err)
	}
	return nil
}
