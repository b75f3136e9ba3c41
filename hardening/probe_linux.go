//go:build linux

package hardening

import (
	"errors"
	"fmt"
	"github.com/ningen-shikkaku/ningen/launcher"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// sysMemfdSecret is memfd_secret's number on every architecture that has
// it: x86 and the generic table (arm64, riscv64, loong64) and s390x agree
// on 447. Elsewhere 447 is unallocated (arm, ppc64, sparc64) or below the
// table's base (mips), so the call fails with ENOSYS, which is the truth
// there. x/sys wraps it only on amd64, arm64 and riscv64, and ningen also
// builds for linux/386 and linux/arm.
const sysMemfdSecret = 447

// Probe looks at this host: it reads /proc and tries the calls ningen would
// make, and changes nothing (the one descriptor it opens is closed at once).
func Probe() Report {
	var u unix.Utsname
	_ = unix.Uname(&u)
	r := Report{Kernel: unix.ByteSliceToString(u.Release[:])}
	r.Memlock = probeMemlock()
	r.MemfdSecret = probeMemfdSecret()
	r.Seccomp = probeSeccomp()
	r.Cgroup = probeCgroup(r.Kernel)
	r.Swap = swapItem(readSwaps())
	r.InitOnFree = initOnFreeItem(readString("/proc/cmdline"))
	scope, err := readString("/proc/sys/kernel/yama/ptrace_scope")
	r.PtraceScope = ptraceItem(scope, err, errors.Is(err, fs.ErrNotExist))
	r.CorePattern = coreItem(readString("/proc/sys/kernel/core_pattern"))
	return r
}

func probeMemlock() Memlock {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return Memlock{Item: Item{Status: Unknown, Why: "cannot read RLIMIT_MEMLOCK: " + err.Error(), Err: err}}
	}
	status, err := readString("/proc/self/status")
	capLock := false
	if err == nil {
		capLock, err = capEffective(status, capIPCLock)
	}
	note := ""
	if err != nil {
		note = " (or cannot be read: " + err.Error() + ")"
	}
	return memlockItem(rlimitBytes(uint64(rl.Cur), unix.RLIM_INFINITY), rlimitBytes(uint64(rl.Max), unix.RLIM_INFINITY),
		capLock, note, int64(os.Getpagesize()))
}

func probeMemfdSecret() MemfdSecret {
	fd, _, errno := unix.Syscall(sysMemfdSecret, 0, 0, 0)
	switch errno {
	case 0:
		_ = unix.Close(int(fd))
		return MemfdSecret{Available: true, Item: Item{Status: Holds,
			Why: "available: vault pages can be taken out of the kernel's direct map (G7)"}}
	case unix.ENOSYS:
		return MemfdSecret{Item: Item{Status: DoesNotHold, Err: errno,
			Why: "not in this kernel (ENOSYS): built without CONFIG_SECRETMEM, or booted with secretmem.enable=0; " +
				"vault pages stay in the direct map, where root can read them (G7 does not hold)"}}
	}
	return MemfdSecret{Item: Item{Status: DoesNotHold, Err: errno,
		Why: fmt.Sprintf("memfd_secret(0) fails with %s (%v): G7 does not hold", unix.ErrnoName(errno), errno)}}
}

func probeSeccomp() Seccomp {
	mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	if err != nil {
		return Seccomp{Mode: -1, Now: seccompNow(-1), Item: Item{Status: DoesNotHold, Err: err,
			Why: "prctl(PR_GET_SECCOMP) fails (" + err.Error() + "): this kernel has no seccomp"}}
	}
	s := Seccomp{Mode: mode, Now: seccompNow(mode)}
	actions, err := readString("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		s.Item = Item{Status: DoesNotHold, Err: err,
			Why: "cannot read the seccomp actions (" + err.Error() + "): no seccomp filters (CONFIG_SECCOMP_FILTER), or a kernel before 4.14"}
		return s
	}
	s.KillProcess = slices.Contains(strings.Fields(actions), "kill_process")
	if !s.KillProcess {
		s.Item = Item{Status: DoesNotHold, Why: "the kernel's seccomp has no kill_process action (it has: " + strings.TrimSpace(actions) + ")"}
		return s
	}
	lib := seccompSupport()
	s.Libseccomp = lib.Libseccomp
	switch {
	case !lib.Linked:
		s.Item = Item{Status: DoesNotHold, Err: ErrUnsupported, Why: "the kernel has kill_process, but this ningen was built " +
			"without cgo and libseccomp, so ningen run refuses to start unless --seccomp=off"}
		return s
	case !lib.KillProcess:
		s.Item = Item{Status: DoesNotHold, Err: ErrSeccompUnavailable, Why: "the kernel has kill_process, but " + lib.why()}
		return s
	}
	s.Item = Item{Status: Holds, Why: "filters work and the kill_process action is available (libseccomp " + lib.Libseccomp + ")"}
	if mode == 2 {
		s.Why += "; this process already runs under a filter (a container runtime's, say), which ningen's would add to"
	}
	return s
}

// probeCgroup finds this process's cgroup v2 directory and whether ningen
// could make and kill a group under it. The root group never has
// cgroup.kill; the groups under it have one from Linux 5.14.
func probeCgroup(kernel string) Cgroup {
	self, err := readString("/proc/self/cgroup")
	if err != nil {
		return Cgroup{Item: Item{Status: Unknown, Why: "cannot read /proc/self/cgroup: " + err.Error(), Err: err}}
	}
	group, err := launcher.CgroupV2Group(self)
	if err != nil {
		return Cgroup{Item: Item{Status: DoesNotHold, Why: err.Error(), Err: err}}
	}
	mi, err := readString("/proc/self/mountinfo")
	if err != nil {
		return Cgroup{Group: group, Item: Item{Status: Unknown, Why: "cannot read /proc/self/mountinfo: " + err.Error(), Err: err}}
	}
	mount, dir, err := launcher.CgroupDir(mi, group)
	if err != nil {
		return Cgroup{Group: group, Item: Item{Status: DoesNotHold, Why: err.Error(), Err: err}}
	}
	writeErr := unix.Access(dir, unix.W_OK)
	_, statErr := os.Stat(dir + "/cgroup.kill")
	kill := statErr == nil || group == "/" && kernelAtLeast(kernel, 5, 14)
	return cgroupItem(mount, group, dir, writeErr, kill)
}

func readSwaps() ([]swapDevice, error) {
	data, err := readString("/proc/swaps")
	if err != nil {
		return nil, err
	}
	return parseSwaps(data)
}

func readString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
