//go:build linux && cgo

package hardening

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/net/bpf"
)

// The compiled programs, run without a kernel in x/net/bpf's classic-BPF
// interpreter over seccomp_data built by hand: every allowed call of each
// architecture, calls that must kill, and foreign architectures.

// AUDIT_ARCH_* values of <linux/audit.h>.
const (
	auditArchX8664   = 0xc000003e
	auditArchI386    = 0x40000003
	auditArchAArch64 = 0xc00000b7
	auditArchARM     = 0x40000028
	x32SyscallBit    = 0x40000000
)

// SECCOMP_RET_* values of <linux/seccomp.h>.
const (
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

var auditArch = map[string]uint32{"amd64": auditArchX8664, "arm64": auditArchAArch64}

// knownNR are system-call numbers copied from each architecture's unistd
// headers, so the simulation does not take libseccomp's word for them.
var knownNR = map[string]map[string]int32{
	"amd64": {"read": 0, "write": 1, "open": 2, "ioctl": 16, "getpid": 39, "socket": 41, "clone": 56,
		"execve": 59, "wait4": 61, "getppid": 110, "ptrace": 101, "exit_group": 231, "openat": 257,
		"epoll_pwait": 281, "process_vm_readv": 310, "execveat": 322, "clone3": 435},
	"arm64": {"ioctl": 29, "openat": 56, "read": 63, "write": 64, "exit_group": 94, "getppid": 173,
		"ptrace": 117, "socket": 198, "clone": 220, "execve": 221, "wait4": 260, "process_vm_readv": 270,
		"execveat": 281, "epoll_pwait": 22, "getpid": 172, "clone3": 435},
}

// seccompData is struct seccomp_data: { int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6]; }.
type seccompData struct {
	nr   int32
	arch uint32
	ip   uint64
	args [6]uint64
}

// bytes lays d out as the kernel does on amd64 and arm64 (little-endian)
// and then swaps each 32-bit word: seccomp programs only load aligned
// words (BPF_LD|BPF_W|BPF_ABS), which the kernel reads in native order
// and x/net/bpf reads big-endian. Swapping every word makes the two agree.
func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], uint32(d.nr))
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	for i := 0; i < len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:]))
	}
	return b
}

// vmFor loads an exported program (struct sock_filter, little-endian on
// both arches) into the interpreter.
func vmFor(t *testing.T, prog []byte) *bpf.VM {
	t.Helper()
	if len(prog) == 0 || len(prog)%8 != 0 {
		t.Fatalf("program of %d bytes is not a sock_filter array", len(prog))
	}
	raw := make([]bpf.RawInstruction, len(prog)/8)
	for i := range raw {
		p := prog[8*i:]
		raw[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(p), Jt: p[2], Jf: p[3], K: binary.LittleEndian.Uint32(p[4:])}
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program has instructions x/net/bpf cannot decode")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("load program: %v", err)
	}
	return vm
}

func run(t *testing.T, vm *bpf.VM, d seccompData) uint32 {
	t.Helper()
	ret, err := vm.Run(d.bytes())
	if err != nil {
		t.Fatalf("run %+v: %v", d, err)
	}
	return uint32(ret)
}

func program(t *testing.T, arch string, mode SeccompMode) *bpf.VM {
	t.Helper()
	prog, err := SeccompProgram(arch, mode)
	if err != nil {
		t.Fatalf("SeccompProgram(%s): %v", arch, err)
	}
	return vmFor(t, prog)
}

func nrOf(t *testing.T, name, arch string) int32 {
	t.Helper()
	nr := syscallNR(name, arch)
	if nr == -1 {
		t.Fatalf("%s does not resolve on %s", name, arch)
	}
	return int32(nr)
}

// matching returns arguments that satisfy every condition of s.
func matching(s Syscall) [6]uint64 {
	var args [6]uint64
	for _, c := range s.When {
		switch c.Op {
		case Eq, MaskedEq:
			args[c.Arg] = c.Value
		case Ne:
			args[c.Arg] = c.Value + 1
		}
	}
	return args
}

// failing returns arguments that break the first condition of s, or false
// when an alternative entry for the same call would still match them.
func failing(s Syscall, entries []Syscall) ([6]uint64, bool) {
	args := matching(s)
	c := s.When[0]
	switch c.Op {
	case Eq:
		args[c.Arg] = c.Value ^ 0x80000
	case Ne:
		args[c.Arg] = c.Value
	case MaskedEq:
		args[c.Arg] = c.Value ^ c.Mask
	}
	for _, o := range entries {
		if o.Name == s.Name && satisfies(o, args) {
			return args, false
		}
	}
	return args, true
}

func satisfies(s Syscall, args [6]uint64) bool {
	for _, c := range s.When {
		a := args[c.Arg]
		switch {
		case c.Op == Eq && a != c.Value, c.Op == Ne && a == c.Value, c.Op == MaskedEq && a&c.Mask != c.Value:
			return false
		}
	}
	return true
}

func want(s Syscall) uint32 {
	if s.Errno != 0 {
		return retErrno | uint32(s.Errno)
	}
	return retAllow
}

func TestSimulatedNumbersMatchTheHeaders(t *testing.T) {
	for arch, table := range knownNR {
		for name, nr := range table {
			if got := syscallNR(name, arch); got != int(nr) {
				t.Errorf("%s on %s: libseccomp says %d, the kernel headers %d", name, arch, got, nr)
			}
		}
	}
}

func TestSimulatedPolicyAllowsEveryEntry(t *testing.T) {
	for _, arch := range Arches {
		t.Run(arch, func(t *testing.T) {
			vm := program(t, arch, SeccompKill)
			entries, _ := PolicyFor(arch)
			for _, s := range entries {
				d := seccompData{nr: nrOf(t, s.Name, arch), arch: auditArch[arch], args: matching(s)}
				if got := run(t, vm, d); got != want(s) {
					t.Errorf("%s(%#x): %#x, want %#x", s.Name, d.args, got, want(s))
				}
				if len(s.When) == 0 {
					continue
				}
				if args, ok := failing(s, entries); ok {
					d.args = args
					if got := run(t, vm, d); got != retKillProcess {
						t.Errorf("%s(%#x) breaks its rule %q: %#x, want kill", s.Name, args, s.describe(), got)
					}
				}
			}
		})
	}
}

func TestSimulatedPolicyKillsForbiddenCalls(t *testing.T) {
	for _, arch := range Arches {
		t.Run(arch, func(t *testing.T) {
			vm := program(t, arch, SeccompKill)
			checked := 0
			for _, name := range Never {
				nr := syscallNR(name, arch)
				if nr < 0 {
					continue // no such call on this arch
				}
				checked++
				for _, args := range [][6]uint64{{}, {1, 2, 3, 4, 5, 6}, {^uint64(0), ^uint64(0)}} {
					d := seccompData{nr: int32(nr), arch: auditArch[arch], args: args}
					if got := run(t, vm, d); got != retKillProcess {
						t.Errorf("%s (%d): %#x, want kill process", name, nr, got)
					}
				}
			}
			if checked < len(Never)*3/4 {
				t.Errorf("only %d of %d forbidden calls exist on %s", checked, len(Never), arch)
			}
			for _, nr := range []int32{-1, 462, 1000, 0x7fffffff} {
				if got := run(t, vm, seccompData{nr: nr, arch: auditArch[arch]}); got != retKillProcess {
					t.Errorf("unknown call %d: %#x, want kill process", nr, got)
				}
			}
		})
	}
}

// Specific argument cases that decide what the supervisor can do.
func TestSimulatedArgumentRules(t *testing.T) {
	const (
		oRDONLY, oCLOEXEC, oDIRECTORYamd, oDIRECTORYarm = 0, 0x80000, 0x10000, 0x4000
		oAPPEND, oPATH                                  = 0x400, 0x200000
		atFDCWD                                         = ^uint64(99) // -100
		mapPrivAnon                                     = 0x22
		tiocsti                                         = 0x5412
	)
	type tc struct {
		name string
		call string
		args [6]uint64
		want uint32
	}
	cases := []tc{
		{"openat read-only", "openat", [6]uint64{atFDCWD, 0, oRDONLY | oCLOEXEC}, retAllow},
		{"openat a directory (amd64 bit)", "openat", [6]uint64{atFDCWD, 0, oDIRECTORYamd | oCLOEXEC}, retAllow},
		{"openat a directory (arm64 bit)", "openat", [6]uint64{atFDCWD, 0, oDIRECTORYarm | oCLOEXEC}, retAllow},
		{"openat O_PATH", "openat", [6]uint64{atFDCWD, 0, oPATH}, retAllow},
		{"openat O_WRONLY", "openat", [6]uint64{atFDCWD, 0, oWronly}, retKillProcess},
		{"openat O_RDWR", "openat", [6]uint64{atFDCWD, 0, oRdwr | oCLOEXEC}, retKillProcess},
		{"openat O_CREAT read-only", "openat", [6]uint64{atFDCWD, 0, oCreat}, retKillProcess},
		{"openat O_TRUNC read-only", "openat", [6]uint64{atFDCWD, 0, oTrunc}, retKillProcess},
		{"openat O_TMPFILE", "openat", [6]uint64{atFDCWD, 0, oTmpfile | oDIRECTORYamd | oRdwr}, retKillProcess},
		{"openat WriteFile flags", "openat", [6]uint64{atFDCWD, 0, oWronly | oCreat | oTrunc | oCLOEXEC}, retKillProcess},
		{"openat O_APPEND|O_WRONLY", "openat", [6]uint64{atFDCWD, 0, oAPPEND | oWronly}, retKillProcess},
		{"mmap RW", "mmap", [6]uint64{0, 4096, 3, mapPrivAnon, ^uint64(0), 0}, retAllow},
		{"mmap RX", "mmap", [6]uint64{0, 4096, 5, mapPrivAnon, ^uint64(0), 0}, retKillProcess},
		{"mprotect RX", "mprotect", [6]uint64{0, 4096, 5}, retKillProcess},
		{"mprotect none", "mprotect", [6]uint64{0, 4096, 0}, retAllow},
		{"madvise DONTNEED", "madvise", [6]uint64{0, 4096, 4}, retAllow},
		{"madvise DODUMP", "madvise", [6]uint64{0, 4096, madvDodmp}, retKillProcess},
		{"clone a thread", "clone", [6]uint64{0x3d0f00}, retAllow},
		{"clone a process (fork)", "clone", [6]uint64{17}, retKillProcess},
		{"clone a process sharing memory (vfork)", "clone", [6]uint64{0x4111}, retKillProcess},
		{"clone3", "clone3", [6]uint64{}, retErrno | enosys},
		{"ioctl TCGETS", "ioctl", [6]uint64{0, tcgets}, retAllow},
		{"ioctl TIOCSTI", "ioctl", [6]uint64{0, tiocsti}, retKillProcess},
		{"ioctl TCGETS with high bits", "ioctl", [6]uint64{0, 1<<32 | tcgets}, retKillProcess},
		{"unlinkat a directory", "unlinkat", [6]uint64{atFDCWD, 0, atRemoveD}, retAllow},
		{"unlinkat a file", "unlinkat", [6]uint64{atFDCWD, 0, 0}, retKillProcess},
	}
	for _, arch := range Arches {
		vm := program(t, arch, SeccompKill)
		for _, c := range cases {
			d := seccompData{nr: nrOf(t, c.call, arch), arch: auditArch[arch], args: c.args}
			if got := run(t, vm, d); got != c.want {
				t.Errorf("%s: %s: %#x, want %#x", arch, c.name, got, c.want)
			}
		}
	}
}

// A program for one arch kills whatever comes in under another: i386 and
// x32 on amd64, 32-bit ARM on arm64, and each of the two for the other.
func TestSimulatedForeignArchKills(t *testing.T) {
	cases := map[string][]seccompData{
		"amd64": {
			{nr: 20, arch: auditArchI386},                  // getpid on i386
			{nr: 39 | x32SyscallBit, arch: auditArchX8664}, // getpid through the x32 ABI
			{nr: 0 | x32SyscallBit, arch: auditArchX8664},  // read through the x32 ABI
			{nr: knownNR["arm64"]["read"], arch: auditArchAArch64},
		},
		"arm64": {
			{nr: 20, arch: auditArchARM},
			{nr: knownNR["amd64"]["read"], arch: auditArchX8664},
			{nr: 63, arch: auditArchX8664},
		},
	}
	for arch, ds := range cases {
		vm := program(t, arch, SeccompKill)
		for _, d := range ds {
			if got := run(t, vm, d); got != retKillProcess {
				t.Errorf("%s program, arch %#x nr %#x: %#x, want kill process", arch, d.arch, d.nr, got)
			}
		}
		// The same call under the right arch passes: the kill above is the arch check.
		read := seccompData{nr: knownNR[arch]["read"], arch: auditArch[arch]}
		if got := run(t, vm, read); got != retAllow {
			t.Errorf("%s program: read: %#x, want allow", arch, got)
		}
	}
}

// The diagnostic modes change the default action and nothing else: a
// foreign arch still kills.
func TestSimulatedDiagnosticModes(t *testing.T) {
	for _, arch := range Arches {
		for mode, ret := range map[SeccompMode]uint32{SeccompLog: retLog, SeccompTrap: retTrap} {
			vm := program(t, arch, mode)
			ptrace := seccompData{nr: knownNR[arch]["ptrace"], arch: auditArch[arch]}
			if got := run(t, vm, ptrace); got != ret {
				t.Errorf("%s %s: ptrace: %#x, want %#x", arch, mode, got, ret)
			}
			read := seccompData{nr: knownNR[arch]["read"], arch: auditArch[arch]}
			if got := run(t, vm, read); got != retAllow {
				t.Errorf("%s %s: read: %#x, want allow", arch, mode, got)
			}
			foreign := seccompData{nr: 20, arch: auditArchI386}
			if got := run(t, vm, foreign); got != retKillProcess {
				t.Errorf("%s %s: foreign arch: %#x, want kill process", arch, mode, got)
			}
		}
	}
}

// The two programs are built from one table: the same names on both.
func TestBothArchesShareOnePolicy(t *testing.T) {
	names := func(arch string) []string {
		entries, _ := PolicyFor(arch)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name)
		}
		return slices.Compact(out)
	}
	amd, arm := names("amd64"), names("arm64")
	if !slices.Equal(amd, arm) {
		t.Errorf("amd64 and arm64 policies differ:\n amd64 %v\n arm64 %v", amd, arm)
	}
	for _, arch := range Arches {
		sa, _ := scmpArch(arch)
		for _, n := range names(arch) {
			if nr, err := seccomp.GetSyscallFromNameByArch(n, sa); err != nil || nr < 0 {
				t.Errorf("%s on %s: %d, %v", n, arch, nr, err)
			}
		}
	}
}

func ExampleSeccompProgram() {
	prog, _ := SeccompProgram("arm64", SeccompKill)
	fmt.Println(len(prog)%8 == 0)
	// Output: true
}
