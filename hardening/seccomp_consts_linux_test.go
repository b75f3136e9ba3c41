//go:build linux

package hardening

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The table spells its argument values as numbers so it builds everywhere;
// here they are checked against the kernel's headers as x/sys has them.
func TestPolicyConstantsMatchTheKernel(t *testing.T) {
	cases := []struct {
		name       string
		have, want uint64
	}{
		{"O_WRONLY", oWronly, unix.O_WRONLY},
		{"O_RDWR", oRdwr, unix.O_RDWR},
		{"O_CREAT", oCreat, unix.O_CREAT},
		{"O_TRUNC", oTrunc, unix.O_TRUNC},
		{"__O_TMPFILE", oTmpfile, unix.O_TMPFILE &^ unix.O_DIRECTORY},
		{"PROT_EXEC", protExec, unix.PROT_EXEC},
		{"MADV_DODUMP", madvDodmp, unix.MADV_DODUMP},
		{"CLONE_THREAD", cloneThrd, unix.CLONE_THREAD},
		{"TCGETS", tcgets, unix.TCGETS},
		{"TCSETS", tcsets, unix.TCSETS},
		{"TIOCGPGRP", tiocgpgrp, unix.TIOCGPGRP},
		{"TIOCSPGRP", tiocspgrp, unix.TIOCSPGRP},
		{"AT_REMOVEDIR", atRemoveD, unix.AT_REMOVEDIR},
		{"ENOSYS", enosys, uint64(unix.ENOSYS)},
	}
	for _, c := range cases {
		if c.have != c.want {
			t.Errorf("%s: table has %#x, kernel %#x", c.name, c.have, c.want)
		}
	}
}
