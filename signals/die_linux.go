//go:build linux

package signals

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is struct sigaction as the rt_sigaction system call takes
// it on 64-bit Linux (amd64 and arm64 share the layout).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// Die ends ningen as e says. To die of a signal it puts that signal's
// default action back and raises it, so the caller sees the same death as
// the child's would have been; SIGQUIT included, which the Go runtime would
// otherwise turn into a stack dump.
func Die(e Exit) {
	if e.Signal != 0 {
		sa := kernelSigaction{handler: 0} // SIG_DFL
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(e.Signal),
			uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
		var set unix.Sigset_t
		set.Val[(e.Signal-1)/64] |= 1 << ((uint(e.Signal) - 1) % 64)
		_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
		_ = unix.Tgkill(os.Getpid(), unix.Gettid(), e.Signal)
		time.Sleep(100 * time.Millisecond) // delivery is asynchronous
	}
	os.Exit(e.Code)
}

// platformCrashing adds SIGSTKFLT, which the runtime turns into a crash.
func platformCrashing() []os.Signal { return []os.Signal{unix.SIGSTKFLT} }

// platformIgnored adds SIGPWR and the real-time signals 35 to 64, which the
// runtime ignores unless asked for. Signal 34 cannot be asked for: the
// runtime leaves it at the kernel's default for musl's use, so it ends
// ningen without the sequence, as SIGKILL does (PDEATHSIG and, in cgroup
// mode, the watchdog are the backstop then).
func platformIgnored() []os.Signal {
	sigs := []os.Signal{unix.SIGPWR}
	for s := 35; s <= 64; s++ {
		sigs = append(sigs, unix.Signal(s))
	}
	return sigs
}
