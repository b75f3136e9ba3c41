//go:build unix && !linux

package hardening

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// notDumpable has no equivalent of PR_SET_DUMPABLE here; the platform
// notice names G3 as not holding, and ningen goes on.
func notDumpable() error { return ErrUnsupported }

// closeOnExecFrom marks descriptors first..1023 close-on-exec; there is no
// close_range here.
func closeOnExecFrom(first int) error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	for fd := first; uint64(fd) < min(rl.Cur, 65536); fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// Missing names the guarantees of SPEC §2 that cannot hold on this platform.
func Missing() []string {
	return []string{
		"G3: no MADV_DONTDUMP and no PR_SET_DUMPABLE: secrets may reach a core dump, and same-user processes may read ningen's memory",
		"G4: no seccomp: ningen runs without a system-call allowlist",
		"G7: no memfd_secret: vault pages stay in the kernel's direct map",
		"§5: no subreaper, PDEATHSIG or pidfds: only the child's process group is tracked and killed",
	}
}
