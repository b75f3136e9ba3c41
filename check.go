package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/ningen-shikkaku/ningen/hardening"
	"github.com/ningen-shikkaku/ningen/launcher"
	"github.com/ningen-shikkaku/ningen/vault"
)

// exitCheckFailed is `ningen check`'s status when a core guarantee cannot
// hold on this host: the check ran, and its answer is no.
const exitCheckFailed = 1

// CheckCmd is `ningen check`: which guarantees hold on this host.
type CheckCmd struct {
	JSON    bool `name:"json" help:"Print the report as JSON."`
	Seccomp bool `name:"seccomp" help:"Print the system-call allowlist ningen run loads, for every architecture, and whether this host can enforce it."`
}

// Run prints the report, and exits 1 when a core guarantee cannot hold.
func (c *CheckCmd) Run() error {
	if c.Seccomp {
		return checkSeccomp(c.JSON)
	}
	rep := newCheckReport(hardening.Probe())
	if err := rep.write(os.Stdout, c.JSON); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if !rep.OK {
		// Not an error for fail(), which would make it 125 (ningen's own
		// failure): the report is out and names what failed; 1 is the answer.
		os.Exit(exitCheckFailed)
	}
	return nil
}

// checkReport is the report; `ningen check --json` prints it as one object
// whose keys are stable:
//
//	os, arch, kernel  the platform; kernel is the release, "" off Linux
//	memlock       {status, why, soft_bytes, hard_bytes, cap_ipc_lock}; -1 bytes is unlimited
//	memfd_secret  {status, why, available}
//	seccomp       {status, why, mode, kill_process, libseccomp}; mode is PR_GET_SECCOMP's, -1 unknown;
//	              libseccomp is the linked version, "" in a build without cgo
//	cgroup        {status, why, mount, group, dir, writable, cgroup_kill}
//	swap          {status, why, devices, size_bytes}
//	init_on_free  {status, why, cmdline}; cmdline is the init_on_free= value, "" if absent
//	ptrace_scope  {status, why, scope}; scope is 0–3, -1 without Yama
//	core_pattern  {status, why, pattern, pipe}
//	arena         {status, why, backing, flags}: a real arena made as ningen run --vault auto
//	              makes it, and the kernel's VmFlags for its pages (want "lo" and "dd")
//	tracking      {mode, why}: what ningen run --track auto uses here, "cgroup" or "subreaper"
//	              on Linux, "process-group" elsewhere
//	guarantees    {"G1": {holds, why}, "G4": {holds, why}}
//	ok            false when a core guarantee cannot hold; the exit status is then 1
//
// status is "ok", "no", "unknown" or "unsupported"; why says what it means
// for ningen, in words.
type checkReport struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
	hardening.Report
	Arena      arenaCheck                     `json:"arena"`
	Tracking   tracking                       `json:"tracking"`
	Guarantees map[string]hardening.Guarantee `json:"guarantees"`
	OK         bool                           `json:"ok"`

	core []hardening.Guarantee // Guarantees, in order
}

// checkSeccomp is `ningen check --seccomp`: the policy, and G4's verdict
// in the exit status, as for the whole report.
func checkSeccomp(asJSON bool) error {
	err := hardening.SeccompReport(os.Stdout, asJSON)
	if errors.Is(err, hardening.ErrSeccompUnavailable) || errors.Is(err, hardening.ErrUnsupported) {
		errorf("G4 cannot hold on this host: %v", err)
		os.Exit(exitCheckFailed)
	}
	if err != nil {
		return fmt.Errorf("write the seccomp policy: %w", err)
	}
	return nil
}

// arenaCheck is what the kernel says of a real arena's pages.
type arenaCheck struct {
	Status  hardening.Status `json:"status"`
	Why     string           `json:"why"`
	Backing string           `json:"backing"`
	Flags   []string         `json:"flags"`
}

// checkArena makes one arena as ningen run would and reads its VmFlags
// back: the protections are confirmed, not assumed.
func checkArena() arenaCheck {
	p, err := vault.SelfCheck()
	a := arenaCheck{Backing: string(p.Backing), Flags: p.Flags}
	switch {
	case runtime.GOOS != "linux":
		a.Status, a.Why = hardening.Unsupported, "no smaps to confirm the flags on this platform"
	case err != nil:
		a.Status, a.Why = hardening.DoesNotHold, "could not make an arena: "+err.Error()
	case slices.Contains(p.Flags, "lo") && slices.Contains(p.Flags, "dd"):
		a.Status, a.Why = hardening.Holds, fmt.Sprintf("a %s arena's pages are locked (lo) and left out of core dumps (dd): VmFlags %s", p.Backing, strings.Join(p.Flags, " "))
	default:
		a.Status, a.Why = hardening.DoesNotHold, fmt.Sprintf("a %s arena's VmFlags are %s: want lo and dd", p.Backing, strings.Join(p.Flags, " "))
	}
	return a
}

// tracking is how `ningen run` would follow the holders here.
type tracking struct {
	Mode string `json:"mode"`
	Why  string `json:"why"`
}

func newCheckReport(r hardening.Report) checkReport {
	rep := checkReport{OS: runtime.GOOS, Arch: runtime.GOARCH, Report: r, Tracking: currentTracking(r.Cgroup), Arena: checkArena(),
		Guarantees: map[string]hardening.Guarantee{}, OK: true, core: r.Core()}
	for _, g := range rep.core {
		rep.Guarantees[g.Name] = g
		rep.OK = rep.OK && g.Holds
	}
	return rep
}

// currentTracking is the mode `ningen run --track auto`, the default, picks
// here: a cgroup of its own where ningen may make one that has cgroup.kill,
// as launcher decides at the start (its start audit line says which), and
// otherwise the subreaper.
func currentTracking(c hardening.Cgroup) tracking {
	switch {
	case runtime.GOOS != "linux":
		return tracking{Mode: "process-group", Why: "no cgroups and no subreaper on this platform: only the child's process group is tracked and killed"}
	case c.Status == hardening.Holds:
		return tracking{Mode: string(launcher.TrackCgroup), Why: "ningen run makes a group under " + c.Dir +
			", starts the child inside it and ends the whole tree with cgroup.kill"}
	}
	return tracking{Mode: string(launcher.TrackSubreaper), Why: "no writable cgroup v2 group with cgroup.kill here, so ningen run, " +
		"as the child subreaper, kills every descendant of ningen, sweeping until none is left"}
}

func (rep checkReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	_, err := io.WriteString(w, rep.text())
	return err
}

// text is one line per item, then one per core guarantee.
func (rep checkReport) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ningen check: %s/%s", rep.OS, rep.Arch)
	if rep.Kernel != "" {
		fmt.Fprintf(&b, ", kernel %s", rep.Kernel)
	}
	b.WriteString("\n")
	items := []struct {
		key string
		it  hardening.Item
	}{
		{"memlock", rep.Memlock.Item},
		{"memfd_secret", rep.MemfdSecret.Item},
		{"seccomp", rep.Seccomp.Item},
		{"cgroup", rep.Cgroup.Item},
		{"swap", rep.Swap.Item},
		{"init_on_free", rep.InitOnFree.Item},
		{"ptrace_scope", rep.PtraceScope.Item},
		{"core_pattern", rep.CorePattern.Item},
	}
	for _, i := range items {
		fmt.Fprintf(&b, "  %-11s  %-12s  %s\n", i.it.Status, i.key, i.it.Why)
	}
	fmt.Fprintf(&b, "  %-11s  %-12s  %s\n", rep.Arena.Status, "arena", rep.Arena.Why)
	fmt.Fprintf(&b, "  %-11s  %-12s  %s: %s\n", "-", "tracking", rep.Tracking.Mode, rep.Tracking.Why)
	for _, g := range rep.core {
		if g.Holds {
			fmt.Fprintf(&b, "%s can hold on this host: %s\n", g.Name, g.Why)
		} else {
			fmt.Fprintf(&b, "%s cannot hold on this host: %s\n", g.Name, g.Why)
		}
	}
	return b.String()
}
