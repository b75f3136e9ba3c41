//go:build unix && !linux

package hardening

import (
	"os"

	"golang.org/x/sys/unix"
)

// Probe looks at this host. Off Linux only the locked-memory limit means
// anything: every other item is a Linux facility, reported as unsupported
// with ErrUnsupported.
func Probe() Report {
	return Report{
		Memlock:     probeMemlock(),
		MemfdSecret: MemfdSecret{Item: unsupported("memfd_secret")},
		Seccomp:     Seccomp{Mode: -1, Now: seccompNow(-1), Item: unsupported("seccomp")},
		Cgroup:      Cgroup{Item: unsupported("cgroup v2")},
		Swap:        Swap{Item: unsupported("/proc/swaps")},
		InitOnFree:  InitOnFree{Item: unsupported("init_on_free")},
		PtraceScope: PtraceScope{Scope: -1, Item: unsupported("Yama")},
		CorePattern: CorePattern{Item: unsupported("core_pattern")},
	}
}

func probeMemlock() Memlock {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return Memlock{Item: Item{Status: Unknown, Why: "cannot read RLIMIT_MEMLOCK: " + err.Error(), Err: err}}
	}
	return memlockItem(rlimitBytes(uint64(rl.Cur), unix.RLIM_INFINITY), rlimitBytes(uint64(rl.Max), unix.RLIM_INFINITY),
		false, " (there are no capabilities here)", int64(os.Getpagesize()))
}

func unsupported(what string) Item {
	return Item{Status: Unsupported, Why: what + " is not available on this platform", Err: ErrUnsupported}
}
