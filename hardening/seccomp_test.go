package hardening

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// These run without cgo: they check the table itself.

func TestPolicyEntriesHaveReasons(t *testing.T) {
	for _, s := range Policy {
		if strings.TrimSpace(s.Why) == "" {
			t.Errorf("%s: no reason", s.Name)
		}
		if len(s.Why) > 120 {
			t.Errorf("%s: reason is %d characters; keep it short", s.Name, len(s.Why))
		}
		for _, a := range s.Arch {
			if !slices.Contains(Arches, a) {
				t.Errorf("%s: unknown arch %q", s.Name, a)
			}
		}
		for _, c := range s.When {
			if c.Arg > 5 {
				t.Errorf("%s: argument %d: system calls have six", s.Name, c.Arg)
			}
			if c.Op == MaskedEq && c.Value&^c.Mask != 0 {
				t.Errorf("%s: value %#x has bits outside mask %#x: never matches", s.Name, c.Value, c.Mask)
			}
		}
	}
}

// A name may repeat only as alternatives: every entry for it conditional,
// with the same action, so the set reads as "any of these".
func TestPolicyRepeatsAreAlternatives(t *testing.T) {
	byName := map[string][]Syscall{}
	for _, s := range Policy {
		byName[s.Name] = append(byName[s.Name], s)
	}
	for name, ss := range byName {
		if len(ss) == 1 {
			continue
		}
		for _, s := range ss {
			if len(s.When) == 0 {
				t.Errorf("%s appears %d times and one entry has no condition: the others mean nothing", name, len(ss))
			}
			if s.Errno != ss[0].Errno {
				t.Errorf("%s: alternatives with different actions", name)
			}
		}
	}
}

func TestPolicyAllowsNothingForbidden(t *testing.T) {
	for _, s := range Policy {
		if slices.Contains(Never, s.Name) {
			t.Errorf("%s is in Policy and in Never", s.Name)
		}
	}
	// The list, spelled out so that editing Never cannot hide it.
	for _, name := range []string{"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
		"socket", "socketpair", "open", "openat2", "creat", "prctl", "fork", "vfork"} {
		if !slices.Contains(Never, name) {
			t.Errorf("Never lacks %s", name)
		}
	}
}

// The conditions that keep an allowed call harmless must be there.
func TestPolicyArgumentRules(t *testing.T) {
	rule := func(name string) []Syscall {
		var out []Syscall
		for _, s := range Policy {
			if s.Name == name {
				out = append(out, s)
			}
		}
		return out
	}
	mustMask := func(name string, arg uint, mask uint64, value uint64) {
		t.Helper()
		for _, s := range rule(name) {
			if len(s.When) != 1 || s.When[0] != (Cond{Arg: arg, Op: MaskedEq, Mask: mask, Value: value}) {
				t.Errorf("%s: want only arg%d & %#x == %#x, have %+v", name, arg, mask, value, s.When)
			}
		}
	}
	mustMask("openat", 2, oWronly|oRdwr|oCreat|oTrunc|oTmpfile, 0)
	mustMask("mmap", 2, protExec, 0)
	mustMask("mprotect", 2, protExec, 0)
	mustMask("clone", 0, cloneThrd, cloneThrd)

	var reqs []uint64
	for _, s := range rule("ioctl") {
		if len(s.When) != 1 || s.When[0].Arg != 1 || s.When[0].Op != Eq {
			t.Fatalf("ioctl: want one request per entry, have %+v", s.When)
		}
		reqs = append(reqs, s.When[0].Value)
	}
	slices.Sort(reqs)
	if want := []uint64{tcgets, tcsets, tiocgpgrp, tiocspgrp}; !slices.Equal(reqs, want) {
		t.Errorf("ioctl requests %#x, want %#x", reqs, want)
	}
	c3 := rule("clone3")
	if len(c3) != 1 || c3[0].Errno != enosys {
		t.Errorf("clone3 must answer ENOSYS so glibc falls back to clone: %+v", c3)
	}
	if u := rule("unlinkat"); len(u) != 1 || u[0].When[0] != (Cond{Arg: 2, Op: Eq, Value: atRemoveD}) {
		t.Errorf("unlinkat must be limited to AT_REMOVEDIR: %+v", u)
	}
}

// arm64 has none of the legacy calls; an entry for one would be a policy
// written for amd64 alone.
func TestPolicyHasNoLegacyCalls(t *testing.T) {
	legacy := []string{"open", "poll", "epoll_wait", "pipe", "dup2", "stat", "lstat", "access",
		"select", "fork", "getpgrp", "time", "arch_prctl"}
	for _, s := range Policy {
		if slices.Contains(legacy, s.Name) && (s.Arch == nil || slices.Contains(s.Arch, "arm64")) {
			t.Errorf("%s does not exist on arm64", s.Name)
		}
	}
}

func TestPolicyFor(t *testing.T) {
	for _, arch := range Arches {
		p, err := PolicyFor(arch)
		if err != nil || len(p) == 0 {
			t.Fatalf("PolicyFor(%s) = %d entries, %v", arch, len(p), err)
		}
	}
	if _, err := PolicyFor("riscv64"); err == nil {
		t.Error("PolicyFor(riscv64) has no policy and must say so")
	}
}

func TestParseSeccompMode(t *testing.T) {
	for _, ok := range []string{"kill", "log", "trap", "off"} {
		if m, err := ParseSeccompMode(ok); err != nil || string(m) != ok {
			t.Errorf("ParseSeccompMode(%q) = %q, %v", ok, m, err)
		}
	}
	for _, bad := range []string{"", "allow", "KILL", "errno"} {
		if _, err := ParseSeccompMode(bad); err == nil {
			t.Errorf("ParseSeccompMode(%q) accepted", bad)
		}
	}
}

func TestDescribe(t *testing.T) {
	cases := []struct {
		s    Syscall
		want string
	}{
		{Syscall{Name: "read"}, ""},
		{Syscall{Name: "openat", When: argNoneOf(2, openForWriting)}, "arg2 & 0x400243 == 0x0"},
		{Syscall{Name: "ioctl", When: argEquals(1, tcgets)}, "arg1 == 0x5401"},
		{Syscall{Name: "madvise", When: []Cond{{Arg: 2, Op: Ne, Value: madvDodmp}}}, "arg2 != 0x11"},
		{Syscall{Name: "clone3", Errno: enosys}, "-> errno 38"},
	}
	for _, c := range cases {
		if got := c.s.describe(); got != c.want {
			t.Errorf("%s: describe() = %q, want %q", c.s.Name, got, c.want)
		}
	}
}

func TestSeccompReportShape(t *testing.T) {
	var text, js bytes.Buffer
	errText := SeccompReport(&text, false)
	errJSON := SeccompReport(&js, true)
	if (errText == nil) != (errJSON == nil) {
		t.Fatalf("text and JSON reports disagree: %v / %v", errText, errJSON)
	}
	for _, arch := range Arches {
		if !strings.Contains(text.String(), "policy for "+arch) {
			t.Errorf("text report has no policy for %s:\n%s", arch, text.String())
		}
	}
	var r struct {
		Support struct {
			KillProcess bool `json:"kill_process"`
		} `json:"support"`
		Policy map[string][]struct {
			Name string `json:"name"`
			Why  string `json:"why"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(js.Bytes(), &r); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, js.String())
	}
	for _, arch := range Arches {
		want, _ := PolicyFor(arch)
		if len(r.Policy[arch]) != len(want) {
			t.Errorf("JSON policy for %s has %d entries, want %d", arch, len(r.Policy[arch]), len(want))
		}
	}
	if r.Support.KillProcess != (errJSON == nil) {
		t.Errorf("kill_process=%v but SeccompReport returned %v", r.Support.KillProcess, errJSON)
	}
}
