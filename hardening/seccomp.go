package hardening

import (
	"errors"
	"fmt"
	"slices"
)

// This file is ningen's seccomp policy as data: the one list the filters for
// every architecture are built from, each entry with the reason it is there.
// It has no build tag, so `CGO_ENABLED=0 go test ./hardening/` checks the
// table even where libseccomp is absent; seccomp_linux.go turns it into BPF.

// What the policy leaves open, on purpose (the residual risk):
//
//   - openat, read-only. The holder walk reads /proc/PID/task/TID/children
//     and /proc/PID/stat by path, so the filter cannot tell /proc from
//     ~/.ssh: a subverted supervisor can still read any file its user can.
//     It cannot write, create or truncate one (those flags kill), cannot
//     open a socket and cannot exec, so what it reads can only go to the
//     descriptors it already holds: stderr, stdout and the delivery pipes.
//     Walking /proc through a directory descriptor opened before the
//     filter, with openat's dirfd pinned to it, would close this.
//   - kill, tgkill and pidfd_send_signal to any pid the kernel lets ningen
//     signal (its own user's processes), as before the filter.
//   - unlinkat with AT_REMOVEDIR: empty directories the user may remove.
//
// Finding the call behind a SIGSYS: the kernel logs every kill (dmesg or
// journalctl -k: "audit: type=1326 ... syscall=NR ... code=0x80000000");
// `ningen check --seccomp` maps NR to a name for each arch. Or rerun with
// `ningen run --seccomp=log` (the call runs and is logged with
// code=0x7ffc0000) or `--seccomp=trap` (the Go runtime prints "SIGSYS: bad
// system call" with a traceback of the goroutine that made it).

// Arches are the architectures the policy is built and validated for
// (SPEC §6), as GOARCH names.
var Arches = []string{"amd64", "arm64"}

// Syscall is one entry of the allowlist.
type Syscall struct {
	Name  string   // as libseccomp and the kernel name it
	Why   string   // who needs it once the session runs
	Arch  []string // only on these GOARCH values; nil means every one of Arches
	Errno int      // non-zero: the call fails with this errno instead of running
	When  []Cond   // every condition must hold; none means any arguments
}

// Cond is one test on a system-call argument. An entry that appears more
// than once allows the call when any of its entries matches.
type Cond struct {
	Arg   uint   // argument index, 0–5
	Op    CmpOp  // how Value (and Mask) are compared
	Value uint64 // compared against the argument (after Mask, for MaskedEq)
	Mask  uint64 // MaskedEq only: arg & Mask == Value
}

// CmpOp is a comparison libseccomp can compile.
type CmpOp int

const (
	Eq       CmpOp = iota + 1 // arg == Value
	Ne                        // arg != Value
	MaskedEq                  // arg & Mask == Value
)

// Argument values the conditions use. They are the same on amd64 and arm64
// (both take them from asm-generic), and a test checks them against
// golang.org/x/sys/unix on the host.
const (
	oWronly   = 0x1      // O_WRONLY
	oRdwr     = 0x2      // O_RDWR
	oCreat    = 0x40     // O_CREAT
	oTrunc    = 0x200    // O_TRUNC
	oTmpfile  = 0x400000 // __O_TMPFILE (O_TMPFILE without O_DIRECTORY)
	protExec  = 0x4      // PROT_EXEC
	madvDodmp = 17       // MADV_DODUMP
	cloneThrd = 0x10000  // CLONE_THREAD
	tcgets    = 0x5401   // TCGETS
	tcsets    = 0x5402   // TCSETS
	tiocgpgrp = 0x540f   // TIOCGPGRP
	tiocspgrp = 0x5410   // TIOCSPGRP
	atRemoveD = 0x200    // AT_REMOVEDIR
	enosys    = 38       // ENOSYS
)

// openForWriting is every open flag that writes, creates or truncates.
const openForWriting = oWronly | oRdwr | oCreat | oTrunc | oTmpfile

func argNoneOf(arg uint, mask uint64) []Cond {
	return []Cond{{Arg: arg, Op: MaskedEq, Mask: mask, Value: 0}}
}

func argEquals(arg uint, v uint64) []Cond { return []Cond{{Arg: arg, Op: Eq, Value: v}} }

// Policy is what ningen may still do once every secret is read and the
// child runs: wait, signal, read and write its own descriptors, look at
// /proc, wipe and exit, plus what the Go runtime and glibc's thread code
// (cgo links libseccomp) do underneath. Everything else kills ningen.
var Policy = []Syscall{
	// The Go runtime and glibc's threads.
	{Name: "futex", Why: "runtime: locks, sleeps and wakeups between threads"},
	{Name: "nanosleep", Why: "runtime: usleep in sysmon and spinning; the kill loop's pause"},
	{Name: "clock_nanosleep", Why: "cgo: pthread_create's EAGAIN retry sleeps (glibc's nanosleep), when pids run out"},
	{Name: "clock_gettime", Why: "runtime: clocks, where the vDSO is not used"},
	{Name: "sched_yield", Why: "runtime: osyield while spinning"},
	{Name: "restart_syscall", Why: "kernel: resumes a sleep interrupted by SIGSTOP/SIGCONT (job control)"},
	{Name: "mmap", Why: "runtime: heap and stacks; glibc thread stacks (never PROT_EXEC)", When: argNoneOf(2, protExec)},
	{Name: "munmap", Why: "runtime: heap release; the wipe unmaps vault arenas"},
	{Name: "mprotect", Why: "glibc: guard page of a new thread's stack (never PROT_EXEC)", When: argNoneOf(2, protExec)},
	{Name: "madvise", Why: "runtime: returns memory; glibc frees a stack on thread exit (never MADV_DODUMP)",
		When: []Cond{{Arg: 2, Op: Ne, Value: madvDodmp}}},
	{Name: "brk", Why: "glibc: malloc in cgo's thread start"},
	{Name: "munlock", Why: "wipe: unlocks vault pages before unmapping them"},
	{Name: "clone", Why: "runtime: new OS threads (only with CLONE_THREAD: no new process)",
		When: []Cond{{Arg: 0, Op: MaskedEq, Mask: cloneThrd, Value: cloneThrd}}},
	{Name: "clone3", Why: "glibc tries clone3 first; ENOSYS makes it use clone, whose flags the filter can see",
		Errno: enosys},
	{Name: "set_robust_list", Why: "glibc: start of a new thread"},
	{Name: "rseq", Why: "glibc: start of a new thread"},
	{Name: "sigaltstack", Why: "runtime: signal stack of a new thread"},
	{Name: "rt_sigaction", Why: "os/signal Notify and Stop after start; signals.Die restores SIG_DFL"},
	{Name: "rt_sigprocmask", Why: "runtime and glibc threads; SIGTTOU held off around terminal calls"},
	{Name: "rt_sigreturn", Why: "runtime: return from every signal handler"},
	{Name: "gettid", Why: "runtime; signals.Die; the launcher's thread checks"},
	{Name: "getpid", Why: "runtime; the holder walk starts from ningen's own pid"},
	{Name: "tgkill", Why: "runtime: preemption (SIGURG); signals.Die re-raises the trigger's signal"},
	{Name: "sched_getaffinity", Why: "runtime: GOMAXPROCS updates, when GODEBUG=updatemaxprocs=1 turns them on"},
	{Name: "pread64", Why: "runtime: GOMAXPROCS updates re-read cgroup cpu.max on a descriptor opened at start"},
	{Name: "exit", Why: "runtime and glibc: a thread ends"},
	{Name: "exit_group", Why: "self-kill: ningen exits with the session's code"},

	// Descriptors ningen already holds: the netpoller, the delivery pipes,
	// pidfds, the terminal and the audit log on stderr.
	{Name: "epoll_pwait", Why: "runtime: the netpoller waits (Go uses epoll_pwait on every arch)"},
	{Name: "epoll_ctl", Why: "runtime: registers pipes, pidfds and /proc files with the netpoller"},
	{Name: "read", Why: "/proc files; the netpoller's eventfd; the parent's pidfd"},
	{Name: "write", Why: "delivery pipes; the audit log on stderr; the netpoller's eventfd"},
	{Name: "close", Why: "pidfds, /proc files, delivery pipes once the child has read them"},
	{Name: "fcntl", Why: "os.File toggles O_NONBLOCK on pipes and /proc files"},
	{Name: "ioctl", Why: "terminal: read the foreground group", When: argEquals(1, tiocgpgrp)},
	{Name: "ioctl", Why: "terminal: hand the foreground to the child and back", When: argEquals(1, tiocspgrp)},
	{Name: "ioctl", Why: "terminal: save the child's settings on Ctrl-Z", When: argEquals(1, tcgets)},
	{Name: "ioctl", Why: "terminal: restore settings at suspend, resume and the end", When: argEquals(1, tcsets)},

	// The holder tree: /proc, read-only.
	{Name: "openat", Why: "holder walk: /proc/PID/task/TID/children and /proc/PID/stat (read-only: no write, create or truncate flag)",
		When: argNoneOf(2, openForWriting)},
	{Name: "getdents64", Why: "holder walk: lists /proc/PID/task"},
	{Name: "fstat", Why: "os.ReadFile sizes the /proc file it reads"},
	{Name: "newfstatat", Why: "holder walk: os.Stat checks that /proc has children lists"},

	// Waiting for and signalling holders. In cgroup mode cgroup.kill was
	// opened for writing before the filter; only the write happens after.
	{Name: "wait4", Why: "reaper: the child and every orphan reparented to ningen"},
	{Name: "pidfd_open", Why: "signals holders through a pidfd so a reused pid is never hit"},
	{Name: "pidfd_send_signal", Why: "SIGTERM/SIGKILL to holders and the child's group; USR1/USR2/WINCH forwarding"},
	{Name: "ppoll", Why: "cgroup mode: waits for cgroup.events to report the group empty"},
	{Name: "unlinkat", Why: "cgroup mode: removes the session's emptied group (only AT_REMOVEDIR: empty directories)",
		When: argEquals(2, atRemoveD)},
	// The tool socket (motokano), when run --tools serves one.
	{Name: "accept4", Why: "motokano: accepts a connection on the tool socket"},
	{Name: "getsockopt", Why: "motokano: SO_PEERCRED of a tool-socket peer (its uid and pid, for the holder check)"},
	{Name: "pipe2", Why: "motokano: an exec tool call's stdout pipe and one pipe per secret it receives"},
	{Name: "sendmsg", Why: "motokano: an exec tool call and its pipes (SCM_RIGHTS) to the tool runner"},
	{Name: "kill", Why: "kill step: SIGKILL to ningen's unreaped children; job control (SIGTSTP, SIGCONT); no pidfds"},
	{Name: "getppid", Why: "parent-death watch on kernels without pidfd_open (polls getppid)"},
}

// Never lists calls that no entry may allow on any architecture. A table
// test checks Policy against it and the BPF simulation runs every one of
// them through the compiled programs.
var Never = []string{
	// running anything
	"execve", "execveat", "fork", "vfork",
	// reading or changing another process
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
	// the network
	"socket", "socketpair", "connect", "bind", "listen", "accept",
	"sendto", "sendmmsg", "recvfrom", "recvmsg",
	// new files, or changing files
	"open", "creat", "openat2", "open_by_handle_at", "name_to_handle_at", "memfd_create",
	"memfd_secret", "truncate", "ftruncate", "unlink", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "mkdir", "mkdirat", "mknod",
	"mknodat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat",
	"splice", "sendfile", "copy_file_range", "dup", "dup2", "dup3",
	// undoing hardening, or reaching the kernel in new ways
	"prctl", "setrlimit", "prlimit64", "seccomp", "bpf", "personality", "mlock", "mlock2",
	"mlockall", "pkey_mprotect", "userfaultfd", "perf_event_open", "io_uring_setup",
	"mount", "umount2", "unshare", "setns", "chroot", "pivot_root", "init_module",
	"finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
	"keyctl", "add_key", "request_key", "setuid", "setgid", "setreuid", "setresuid",
	"capset", "arch_prctl", "modify_ldt", "iopl", "ioperm",
}

// PolicyFor returns the entries that apply on arch, in table order.
func PolicyFor(arch string) ([]Syscall, error) {
	if !slices.Contains(Arches, arch) {
		return nil, fmt.Errorf("seccomp policy: no policy for architecture %q (have %v)", arch, Arches)
	}
	var out []Syscall
	for _, s := range Policy {
		if s.Arch == nil || slices.Contains(s.Arch, arch) {
			out = append(out, s)
		}
	}
	return out, nil
}

// SeccompMode is how the filter treats a call outside the policy.
type SeccompMode string

// The modes of `ningen run --seccomp`.
const (
	// SeccompKill is the default: the whole process dies of SIGSYS
	// (SECCOMP_RET_KILL_PROCESS), and the child with it through PDEATHSIG.
	SeccompKill SeccompMode = "kill"
	// SeccompLog lets the call run and has the kernel log it (audit
	// type=1326, `journalctl -k` or `dmesg`, syscall=NR). For finding the
	// call behind a SIGSYS; it protects nothing.
	SeccompLog SeccompMode = "log"
	// SeccompTrap sends SIGSYS to the thread, so the Go runtime prints a
	// traceback naming the call site before it exits. Also for diagnosis.
	SeccompTrap SeccompMode = "trap"
	// SeccompOff loads no filter: the opt-out, audited loudly.
	SeccompOff SeccompMode = "off"
)

// ParseSeccompMode checks a --seccomp value.
func ParseSeccompMode(s string) (SeccompMode, error) {
	switch m := SeccompMode(s); m {
	case SeccompKill, SeccompLog, SeccompTrap, SeccompOff:
		return m, nil
	}
	return "", fmt.Errorf("seccomp mode %q: want kill, log, trap or off", s)
}

// ErrSeccompUnavailable says that this kernel or libseccomp cannot give the
// guarantee of SPEC §2 G4: a filter whose default action kills the process.
var ErrSeccompUnavailable = errors.New("seccomp with the kill-process action is not available")

// describe renders an entry's conditions for the seccompReport, e.g.
// "arg2 & 0x400243 == 0".
func (s Syscall) describe() string {
	var out string
	for i, c := range s.When {
		if i > 0 {
			out += " && "
		}
		switch c.Op {
		case Eq:
			out += fmt.Sprintf("arg%d == %#x", c.Arg, c.Value)
		case Ne:
			out += fmt.Sprintf("arg%d != %#x", c.Arg, c.Value)
		case MaskedEq:
			out += fmt.Sprintf("arg%d & %#x == %#x", c.Arg, c.Mask, c.Value)
		}
	}
	if s.Errno != 0 {
		if out != "" {
			out += " "
		}
		out += fmt.Sprintf("-> errno %d", s.Errno)
	}
	return out
}

// supportError is nil when s can enforce the policy as G4 asks.
func seccompSupportError(s SeccompSupport) error {
	switch {
	case !s.Linked:
		return fmt.Errorf("seccomp: %w (needs linux with cgo and libseccomp)", ErrUnsupported)
	case !s.KillProcess:
		return fmt.Errorf("%w: %s", ErrSeccompUnavailable, s.why())
	}
	return nil
}

func (s SeccompSupport) why() string {
	switch {
	case s.API < 2:
		return fmt.Sprintf("libseccomp %s reports API level %d: the kernel lacks seccomp(2) with TSYNC (Linux 3.17+)", s.Libseccomp, s.API)
	case len(s.Actions) == 0:
		return "/proc/sys/kernel/seccomp/actions_avail is missing (kernel without CONFIG_SECCOMP_FILTER, or before Linux 4.14)"
	}
	return fmt.Sprintf("kernel actions %v, libseccomp %s API level %d: kill_process needs Linux 4.14+ and API level 3", s.Actions, s.Libseccomp, s.API)
}
