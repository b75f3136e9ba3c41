package hardening

import (
	"errors"
	"fmt"
	"github.com/ningen-shikkaku/ningen/launcher"
	"math"
	"strconv"
	"strings"
)

// This file holds what `ningen check` knows about a host that is not tied
// to one platform: the report's types, the verdicts, and the parsers of the
// /proc files the Linux probe reads, so every platform can test them.

// Status says whether one item of the report holds on this host.
type Status string

// The statuses, as `ningen check` prints them.
const (
	Holds       Status = "ok"          // the protection is there
	DoesNotHold Status = "no"          // it is not; Why says what that costs
	Unknown     Status = "unknown"     // the host does not say
	Unsupported Status = "unsupported" // no such thing on this platform
)

// Item is what every line of the report carries: whether it holds, why,
// and the probe's error when there was one (ErrUnsupported off Linux).
type Item struct {
	Status Status `json:"status"`
	Why    string `json:"why"`
	Err    error  `json:"-"`
}

// Memlock is the locked-memory limit, the precondition of G1.
type Memlock struct {
	Item
	Soft       int64 `json:"soft_bytes"` // RLIMIT_MEMLOCK soft limit; -1 is unlimited
	Hard       int64 `json:"hard_bytes"` // RLIMIT_MEMLOCK hard limit; -1 is unlimited
	CapIPCLock bool  `json:"cap_ipc_lock"`
}

// MemfdSecret is whether the kernel has memfd_secret, the basis of G7.
type MemfdSecret struct {
	Item
	Available bool `json:"available"`
}

// Seccomp is whether this ningen, on this kernel, can install its
// KillProcess allowlist (G4): the kernel must have seccomp filters with the
// kill_process action, and the build must have libseccomp (cgo).
type Seccomp struct {
	Item
	Mode        int    `json:"-"`            // PR_GET_SECCOMP: 0 none, 1 strict, 2 filtered already; -1 unknown
	Now         string `json:"now"`          // Mode in words: "none", "strict", "filter" or "unknown"
	KillProcess bool   `json:"kill_process"` // the kernel has SECCOMP_RET_KILL_PROCESS
	Libseccomp  string `json:"libseccomp"`   // the linked library's version, "" in a build without it
}

// Cgroup is this process's cgroup v2 group and what ningen may do with it.
type Cgroup struct {
	Item
	Mount      string `json:"mount"` // where cgroup2 is mounted, "" if nowhere
	Group      string `json:"group"` // the 0:: path of /proc/self/cgroup
	Dir        string `json:"dir"`   // the group's directory
	Writable   bool   `json:"writable"`
	CgroupKill bool   `json:"cgroup_kill"` // groups ningen creates here would have cgroup.kill
}

// Swap is whether any swap device is active.
type Swap struct {
	Item
	Devices   int   `json:"devices"`
	SizeBytes int64 `json:"size_bytes"`
}

// InitOnFree is whether the kernel zeroes pages as they are freed.
type InitOnFree struct {
	Item
	Cmdline string `json:"cmdline"` // the init_on_free= value on the kernel command line, "" if absent
}

// PtraceScope is Yama's ptrace restriction.
type PtraceScope struct {
	Item
	Scope int `json:"scope"` // 0–3; -1 when Yama is not present or unreadable
}

// CorePattern is where the kernel sends core dumps.
type CorePattern struct {
	Item
	Pattern string `json:"pattern"`
	Pipe    bool   `json:"pipe"` // a |handler receives the dumps
}

// Report is what Probe found on this host, one field per line of
// `ningen check`.
type Report struct {
	Kernel      string      `json:"kernel"` // the kernel release, "" off Linux
	Memlock     Memlock     `json:"memlock"`
	MemfdSecret MemfdSecret `json:"memfd_secret"`
	Seccomp     Seccomp     `json:"seccomp"`
	Cgroup      Cgroup      `json:"cgroup"`
	Swap        Swap        `json:"swap"`
	InitOnFree  InitOnFree  `json:"init_on_free"`
	PtraceScope PtraceScope `json:"ptrace_scope"`
	CorePattern CorePattern `json:"core_pattern"`
}

// Guarantee is the verdict on one core guarantee of SPEC §2.
type Guarantee struct {
	Name  string `json:"-"`
	Holds bool   `json:"holds"`
	Why   string `json:"why"`
}

// Core judges the guarantees that `ningen check` fails on: G1 needs memory
// ningen can lock, G4 needs seccomp with KillProcess. Anything but a
// positive answer counts as cannot hold: the check fails closed.
func (r Report) Core() []Guarantee {
	return []Guarantee{
		verdict("G1", r.Memlock.Item, "vault memory can be locked"),
		verdict("G4", r.Seccomp.Item, "this ningen can load its KillProcess allowlist on this kernel"),
	}
}

func verdict(name string, it Item, holds string) Guarantee {
	if it.Status == Holds {
		return Guarantee{Name: name, Holds: true, Why: holds}
	}
	return Guarantee{Name: name, Why: it.Why}
}

// memlockItem judges G1's precondition. mlock charges whole pages against
// the soft limit, so a limit below one page locks nothing; CAP_IPC_LOCK
// lifts the limit altogether. capNote says why the capability is absent
// when that is worth saying ("" otherwise).
func memlockItem(soft, hard int64, capLock bool, capNote string, page int64) Memlock {
	m := Memlock{Soft: soft, Hard: hard, CapIPCLock: capLock}
	limits := fmt.Sprintf("soft %s, hard %s", formatLimit(soft), formatLimit(hard))
	switch {
	case capLock:
		m.Item = Item{Status: Holds, Why: limits + "; CAP_IPC_LOCK is effective, so no limit applies"}
	case soft < 0 || soft >= page:
		m.Item = Item{Status: Holds, Why: limits + "; ningen can lock up to " + formatLimit(soft)}
	default:
		why := limits + ": less than one page, and CAP_IPC_LOCK is not effective" + capNote +
			", so ningen run refuses to start; "
		if hard < 0 || hard >= page {
			why += "raise the soft limit with ulimit -l (the hard limit allows it) or grant CAP_IPC_LOCK"
		} else {
			why += "the hard limit is too low as well: raise it as root (memlock in /etc/security/limits.conf, LimitMEMLOCK= in a systemd unit) or grant CAP_IPC_LOCK"
		}
		m.Item = Item{Status: DoesNotHold, Why: why}
	}
	return m
}

// rlimitBytes turns an rlimit value into the report's bytes, -1 for
// unlimited (infinity is the platform's RLIM_INFINITY).
func rlimitBytes(v, infinity uint64) int64 {
	if v == infinity || v > math.MaxInt64 {
		return -1
	}
	return int64(v)
}

// formatLimit prints a byte count the way ulimit users think of it.
func formatLimit(n int64) string {
	switch {
	case n < 0:
		return "unlimited"
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// capIPCLock is CAP_IPC_LOCK's bit in Linux's capability sets
// (linux/capability.h).
const capIPCLock = 14

// capEffective reports whether capability bit is in the CapEff line of a
// /proc/PID/status file.
func capEffective(status string, bit uint) (bool, error) {
	v, ok := statusField(status, "CapEff")
	if !ok {
		return false, errors.New("no CapEff line")
	}
	mask, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return false, fmt.Errorf("CapEff %q: %w", v, err)
	}
	return mask&(1<<bit) != 0, nil
}

// statusField returns the value of "Name:\tvalue" in a /proc/PID/status file.
func statusField(status, name string) (string, bool) {
	for line := range strings.Lines(status) {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// cgroupItem judges whether ningen could track holders with a group of its
// own: it must be able to create one under its group, and the group it
// creates must have cgroup.kill. The root group never has cgroup.kill
// itself, so killFile is about a child group there.
func cgroupItem(mount, group, dir string, writeErr error, killFile bool) Cgroup {
	c := Cgroup{Mount: mount, Group: group, Dir: dir, Writable: writeErr == nil, CgroupKill: killFile}
	why := fmt.Sprintf("group %s (cgroup2 at %s): ", group, mount)
	if writeErr == nil {
		why += "writable"
	} else {
		why += "not writable (" + writeErr.Error() + ")"
	}
	switch {
	case group == "/" && killFile:
		why += "; the root group has no cgroup.kill, but groups made under it do on this kernel (5.14 or later)"
	case group == "/":
		why += "; the root group has no cgroup.kill, and this kernel gives groups under it none either (5.14 added it)"
	case killFile:
		why += ", cgroup.kill present"
	default:
		why += ", no cgroup.kill (Linux 5.14 added it)"
	}
	c.Item = Item{Status: DoesNotHold, Why: why}
	if c.Writable && killFile {
		c.Status = Holds
	}
	return c
}

// kernelAtLeast compares a uname release such as "6.1.0-18-amd64" with
// major.minor. An unparsable release is not at least anything.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	digits := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(parts[1])
	}
	mnr, err2 := strconv.Atoi(parts[1][:digits]) // "10-rc1" is 10
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

// swapDevice is one line of /proc/swaps.
type swapDevice struct {
	Path    string
	Type    string
	SizeKiB int64
	UsedKiB int64
}

// parseSwaps parses /proc/swaps: a header, then one line per active device,
//
//	/dev/sda2                               partition	2097148		0		-2
func parseSwaps(data string) ([]swapDevice, error) {
	var devs []swapDevice
	for line := range strings.Lines(data) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "Filename" {
			continue
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("/proc/swaps line %q: want 5 fields", strings.TrimSpace(line))
		}
		size, err1 := strconv.ParseInt(f[2], 10, 64)
		used, err2 := strconv.ParseInt(f[3], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("/proc/swaps line %q: %w", strings.TrimSpace(line), err)
		}
		devs = append(devs, swapDevice{Path: launcher.UnescapeOctal(f[0]), Type: f[1], SizeKiB: size, UsedKiB: used})
	}
	return devs, nil
}

func swapItem(devs []swapDevice, err error) Swap {
	if err != nil {
		return Swap{Item: Item{Status: Unknown, Why: "cannot read /proc/swaps: " + err.Error(), Err: err}}
	}
	if len(devs) == 0 {
		return Swap{Item: Item{Status: Holds, Why: "off: no page can be written to swap"}}
	}
	s := Swap{Devices: len(devs)}
	var paths []string
	for _, d := range devs {
		s.SizeBytes += d.SizeKiB << 10
		paths = append(paths, d.Path)
	}
	s.Item = Item{Status: DoesNotHold, Why: fmt.Sprintf("on (%s, %s): vault pages are locked and never swapped, "+
		"but memfd deliveries and the child's own copies of secrets can be", strings.Join(paths, ", "), formatLimit(s.SizeBytes))}
	return s
}

// initOnFree returns the last init_on_free= value on a kernel command line
// (the last one wins), ignoring what follows "--", which goes to init.
func initOnFree(cmdline string) (string, bool) {
	val, found := "", false
	for _, f := range strings.Fields(cmdline) {
		if f == "--" {
			break
		}
		if v, ok := strings.CutPrefix(f, "init_on_free="); ok {
			val, found = v, true
		}
	}
	return val, found
}

// kernelBool reads a boolean boot parameter the way the kernel's kstrtobool
// does: 1/y/Y/on true, 0/n/N/off false.
func kernelBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "1", "y", "yes", "on":
		return true, true
	case "0", "n", "no", "off":
		return false, true
	}
	return false, false
}

func initOnFreeItem(cmdline string, err error) InitOnFree {
	if err != nil {
		return InitOnFree{Item: Item{Status: Unknown, Why: "cannot read /proc/cmdline: " + err.Error(), Err: err}}
	}
	v, found := initOnFree(cmdline)
	on, ok := kernelBool(v)
	i := InitOnFree{Cmdline: v}
	switch {
	case !found:
		i.Item = Item{Status: Unknown, Why: "not on the kernel command line: off unless the kernel was built with " +
			"CONFIG_INIT_ON_FREE_DEFAULT_ON; if a hard crash (kill -9, OOM) skips the wipe, freed pages keep their contents until reused"}
	case !ok:
		i.Item = Item{Status: Unknown, Why: fmt.Sprintf("init_on_free=%s on the kernel command line is not a boolean the kernel accepts", v)}
	case on:
		i.Item = Item{Status: Holds, Why: "init_on_free=" + v + ": the kernel zeroes freed pages, even when a hard crash skips the wipe"}
	default:
		i.Item = Item{Status: DoesNotHold, Why: "init_on_free=" + v + ": if a hard crash (kill -9, OOM) skips the wipe, freed pages keep their contents until reused"}
	}
	return i
}

// ptraceItem judges Yama's ptrace_scope (0–3). ningen itself is
// non-dumpable whatever the scope; the child, which holds what it was
// given, is protected only by the scope.
func ptraceItem(data string, err error, absent bool) PtraceScope {
	switch {
	case absent:
		return PtraceScope{Scope: -1, Item: Item{Status: DoesNotHold, Why: "Yama is not present: any process of the same user may ptrace the child; ningen itself is non-dumpable"}}
	case err != nil:
		return PtraceScope{Scope: -1, Item: Item{Status: Unknown, Why: "cannot read ptrace_scope: " + err.Error(), Err: err}}
	}
	scope, perr := strconv.Atoi(strings.TrimSpace(data))
	p := PtraceScope{Scope: scope}
	switch {
	case perr != nil || scope < 0 || scope > 3:
		p = PtraceScope{Scope: -1, Item: Item{Status: Unknown, Why: fmt.Sprintf("ptrace_scope %q is not 0–3", strings.TrimSpace(data))}}
	case scope == 0:
		p.Item = Item{Status: DoesNotHold, Why: "0 (classic): any process of the same user may ptrace the child; ningen itself is non-dumpable"}
	case scope == 1:
		p.Item = Item{Status: Holds, Why: "1 (restricted): only an ancestor or a declared tracer may ptrace the child"}
	case scope == 2:
		p.Item = Item{Status: Holds, Why: "2 (admin-only): only CAP_SYS_PTRACE may ptrace"}
	default:
		p.Item = Item{Status: Holds, Why: "3 (no attach): no process may ptrace another"}
	}
	return p
}

// coreItem judges core_pattern. ningen sets RLIMIT_CORE 0 for itself and
// its children and makes itself non-dumpable, which the kernel honours for
// every pattern. A file pattern then gets no dump at all; a |handler is
// run whatever RLIMIT_CORE says and is passed the limit, so whether a
// child's dump is kept is up to the handler.
func coreItem(pattern string, err error) CorePattern {
	if err != nil {
		return CorePattern{Item: Item{Status: Unknown, Why: "cannot read core_pattern: " + err.Error(), Err: err}}
	}
	pattern = strings.TrimSuffix(pattern, "\n")
	c := CorePattern{Pattern: pattern}
	if handler, ok := strings.CutPrefix(pattern, "|"); ok {
		c.Pipe = true
		c.Item = Item{Status: Unknown, Why: fmt.Sprintf("%q: a handler receives dumps, whatever RLIMIT_CORE says; "+
			"ningen is non-dumpable, and its children's RLIMIT_CORE 0 is passed to %s, which systemd-coredump and apport honour",
			pattern, handlerName(handler))}
		return c
	}
	c.Item = Item{Status: Holds, Why: fmt.Sprintf("%q (a file): RLIMIT_CORE 0, which ningen sets for itself and its children, stops every dump, and ningen is non-dumpable", pattern)}
	return c
}

// handlerName is the program of a |handler core_pattern.
func handlerName(handler string) string {
	if f := strings.Fields(handler); len(f) > 0 {
		return f[0]
	}
	return "the handler"
}

// seccompNow names a PR_GET_SECCOMP mode.
func seccompNow(mode int) string {
	switch mode {
	case 0:
		return "none"
	case 1:
		return "strict"
	case 2:
		return "filter"
	}
	return "unknown"
}
