//go:build linux && cgo

package hardening

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Filter is the policy compiled for this machine's architecture, ready to
// load. Building it is separate from loading it so that a kernel or a
// libseccomp that cannot give G4 is found before the child starts.
type Filter struct {
	filter *seccomp.ScmpFilter
	mode   SeccompMode
	rules  int
	built  time.Duration
}

// Confined is what Load found once the filter was in place.
type Confined struct {
	Mode    SeccompMode
	Rules   int           // policy entries compiled in
	Threads int           // ningen's threads when it loaded: all carry it (TSYNC)
	Filters int           // Seccomp_filters of the main thread
	Took    time.Duration // build and load
}

// NewFilter compiles the policy for the native architecture. mode picks
// the action for calls outside it; SeccompOff is not a filter and is
// refused here, so a caller cannot load "nothing" by mistake.
func NewFilter(mode SeccompMode) (*Filter, error) {
	if mode == SeccompOff {
		return nil, errors.New("seccomp: mode off builds no filter")
	}
	if err := checkSeccompSupport(); err != nil {
		return nil, err
	}
	start := time.Now()
	f, n, err := buildFilter(runtime.GOARCH, mode)
	if err != nil {
		return nil, err
	}
	return &Filter{filter: f, mode: mode, rules: n, built: time.Since(start)}, nil
}

// checkSupport refuses what would load a weaker filter than G4 asks for:
// no kill-process action, or no TSYNC (the filter would cover one thread).
func checkSeccompSupport() error {
	return seccompSupportError(seccompSupport())
}

// Load installs the filter, with no_new_privs, on every thread of ningen
// at once (TSYNC), then checks in /proc/self/task that it took hold on
// them all. After Load the process can never leave the filter; an error
// from the check means the caller must end the session.
func (s *Filter) Load() (Confined, error) {
	runtime.LockOSThread() // the check knows which thread loaded the filter
	defer runtime.UnlockOSThread()
	start := time.Now()
	if err := s.filter.Load(); err != nil {
		return Confined{}, fmt.Errorf("load seccomp filter: %w", err)
	}
	took := s.built + time.Since(start)
	s.filter.Release()
	threads, filters, err := checkThreadsFiltered()
	c := Confined{Mode: s.mode, Rules: s.rules, Threads: threads, Filters: filters, Took: took}
	if err != nil {
		return c, fmt.Errorf("seccomp filter loaded, but %w", err)
	}
	return c, nil
}

// Release frees a filter that will not be loaded.
func (s *Filter) Release() { s.filter.Release() }

// SeccompProgram is the classic-BPF program the policy compiles to for arch
// ("amd64" or "arm64"), as the kernel would receive it: struct sock_filter
// entries in the build host's byte order.
func SeccompProgram(arch string, mode SeccompMode) ([]byte, error) {
	f, _, err := buildFilter(arch, mode)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	return exportProgram(f)
}

// build compiles the policy for one architecture, and only that one: any
// other arch (on amd64 also i386 and x32) meets the bad-arch action, which
// kills the process in every mode.
func buildFilter(arch string, mode SeccompMode) (*seccomp.ScmpFilter, int, error) {
	entries, err := PolicyFor(arch)
	if err != nil {
		return nil, 0, err
	}
	sa, err := scmpArch(arch)
	if err != nil {
		return nil, 0, err
	}
	f, err := seccomp.NewFilter(scmpDefaultAction(mode))
	if err != nil {
		return nil, 0, fmt.Errorf("seccomp filter: %w", err)
	}
	if err := scmpSetArch(f, sa); err != nil {
		f.Release()
		return nil, 0, err
	}
	for _, e := range entries {
		if err := scmpAddRule(f, sa, e); err != nil {
			f.Release()
			return nil, 0, err
		}
	}
	return f, len(entries), nil
}

func scmpDefaultAction(mode SeccompMode) seccomp.ScmpAction {
	switch mode {
	case SeccompLog:
		return seccomp.ActLog
	case SeccompTrap:
		return seccomp.ActTrap
	}
	return seccomp.ActKillProcess
}

func scmpArch(arch string) (seccomp.ScmpArch, error) {
	switch arch {
	case "amd64":
		return seccomp.ArchAMD64, nil
	case "arm64":
		return seccomp.ArchARM64, nil
	}
	return 0, fmt.Errorf("seccomp policy: no libseccomp architecture for %q", arch)
}

// setArch leaves exactly one architecture in the filter, with a bad-arch
// action that kills the process rather than libseccomp's default (thread).
func scmpSetArch(f *seccomp.ScmpFilter, sa seccomp.ScmpArch) error {
	native, err := seccomp.GetNativeArch()
	if err != nil {
		return fmt.Errorf("seccomp native arch: %w", err)
	}
	if native != sa {
		if err := f.AddArch(sa); err != nil {
			return fmt.Errorf("seccomp add arch %s: %w", sa, err)
		}
		if err := f.RemoveArch(seccomp.ArchNative); err != nil {
			return fmt.Errorf("seccomp remove native arch: %w", err)
		}
	}
	if err := f.SetBadArchAction(seccomp.ActKillProcess); err != nil {
		return fmt.Errorf("seccomp bad-arch action: %w", err)
	}
	return f.SetNoNewPrivsBit(true)
}

func scmpAddRule(f *seccomp.ScmpFilter, sa seccomp.ScmpArch, e Syscall) error {
	if _, err := syscallNumber(e.Name, sa); err != nil {
		return err
	}
	// Rules take the number in the native arch's numbering (negative for a
	// call the native arch lacks); libseccomp translates it by name.
	nr, err := seccomp.GetSyscallFromName(e.Name)
	if err != nil {
		return fmt.Errorf("seccomp policy: %s: %w", e.Name, err)
	}
	action := seccomp.ActAllow
	if e.Errno != 0 {
		action = seccomp.ActErrno.SetReturnCode(int16(e.Errno))
	}
	conds, err := scmpConditions(e.When)
	if err != nil {
		return fmt.Errorf("seccomp rule %s: %w", e.Name, err)
	}
	if len(conds) == 0 {
		err = f.AddRuleExact(nr, action)
	} else {
		err = f.AddRuleConditionalExact(nr, action, conds)
	}
	if err != nil {
		return fmt.Errorf("seccomp rule %s: %w", e.Name, err)
	}
	return nil
}

// syscallNumber resolves name on sa. A name that exists only on another
// arch resolves to a negative pseudo-number, which libseccomp would accept
// and silently drop: that is a table error, reported as one.
func syscallNumber(name string, sa seccomp.ScmpArch) (seccomp.ScmpSyscall, error) {
	nr, err := seccomp.GetSyscallFromNameByArch(name, sa)
	if err != nil {
		return 0, fmt.Errorf("seccomp policy: %s is unknown to libseccomp %s: %w", name, libseccompVersion(), err)
	}
	if nr < 0 {
		return 0, fmt.Errorf("seccomp policy: %s does not exist on %s", name, sa)
	}
	return nr, nil
}

func scmpConditions(cs []Cond) ([]seccomp.ScmpCondition, error) {
	var out []seccomp.ScmpCondition
	for _, c := range cs {
		var sc seccomp.ScmpCondition
		var err error
		switch c.Op {
		case Eq:
			sc, err = seccomp.MakeCondition(c.Arg, seccomp.CompareEqual, c.Value)
		case Ne:
			sc, err = seccomp.MakeCondition(c.Arg, seccomp.CompareNotEqual, c.Value)
		case MaskedEq:
			sc, err = seccomp.MakeCondition(c.Arg, seccomp.CompareMaskedEqual, c.Mask, c.Value)
		default:
			err = fmt.Errorf("unknown comparison %d", c.Op)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// exportBPF returns the compiled program. libseccomp before 2.6 has no
// seccomp_export_bpf_mem, so the fallback writes it to a memfd and reads
// it back.
func exportProgram(f *seccomp.ScmpFilter) ([]byte, error) {
	if b, err := f.ExportBPFMem(); err == nil {
		return b, nil
	}
	fd, err := unix.MemfdCreate("ningen-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("export seccomp program: memfd: %w", err)
	}
	file := os.NewFile(uintptr(fd), "ningen-seccomp-bpf")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("export seccomp program: %w", err)
	}
	if _, err := file.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("export seccomp program: %w", err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(file); err != nil {
		return nil, fmt.Errorf("export seccomp program: %w", err)
	}
	return b.Bytes(), nil
}

// checkThreadsFiltered proves the filter covers every thread of ningen:
// TSYNC puts it on all of them or fails, and without TSYNC only the loading
// thread (the caller's, locked) would carry it. So the loading thread and
// one other showing "Seccomp: 2" is the proof; reading every thread's
// status, as the tests do, cost each start half a millisecond. It runs
// under the filter, with what the policy allows for the holder walk.
func checkThreadsFiltered() (threads, filters int, err error) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return 0, 0, fmt.Errorf("cannot list threads to check them: %w", err)
	}
	tids, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("cannot list threads to check them: %w", err)
	}
	self := strconv.Itoa(unix.Gettid())
	if filters, err = threadFiltered(self); err != nil {
		return 0, 0, err
	}
	others := 0
	for _, tid := range tids {
		if tid == self {
			continue
		}
		if _, err := threadFiltered(tid); errors.Is(err, os.ErrNotExist) {
			continue // the thread ended since the listing
		} else if err != nil {
			return 0, 0, err
		}
		others++
		break
	}
	if others == 0 && len(tids) > 1 {
		return 0, 0, errors.New("no thread besides the loading one could be checked")
	}
	return len(tids), filters, nil
}

// threadFiltered reads one thread's seccomp state.
func threadFiltered(tid string) (filters int, err error) {
	b, err := os.ReadFile("/proc/self/task/" + tid + "/status")
	if err != nil {
		return 0, fmt.Errorf("cannot check thread %s: %w", tid, err)
	}
	mode, n := statusSeccomp(b)
	if mode != "2" {
		return 0, fmt.Errorf("thread %s shows Seccomp: %s, not 2 (no TSYNC?)", tid, mode)
	}
	return n, nil
}

// statusSeccomp picks "Seccomp:" and "Seccomp_filters:" out of a
// /proc/PID/status file.
func statusSeccomp(status []byte) (mode string, filters int) {
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Seccomp":
			mode = strings.TrimSpace(v)
		case "Seccomp_filters":
			_, _ = fmt.Sscan(strings.TrimSpace(v), &filters)
		}
	}
	return mode, filters
}

func seccompSupport() SeccompSupport {
	s := SeccompSupport{Linked: true}
	api, _ := seccomp.GetAPI()
	s.Libseccomp, s.API, s.TSync = libseccompVersion(), api, api >= 2
	if b, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail"); err == nil {
		s.Actions = strings.Fields(string(b))
	}
	hasKill := false
	for _, a := range s.Actions {
		hasKill = hasKill || a == "kill_process"
	}
	// libseccomp's API level 3 means the kernel has SECCOMP_RET_KILL_PROCESS
	// and SECCOMP_RET_LOG; level 2 means seccomp(2) with TSYNC.
	s.KillProcess = hasKill && api >= 3
	return s
}

func libseccompVersion() string {
	maj, min, mic := seccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, mic)
}

// numberOf resolves a policy name for the seccompReport; -1 when it does not
// resolve.
func syscallNR(name, arch string) int {
	sa, err := scmpArch(arch)
	if err != nil {
		return -1
	}
	nr, err := seccomp.GetSyscallFromNameByArch(name, sa)
	if err != nil {
		return -1
	}
	return int(nr)
}
