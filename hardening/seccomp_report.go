package hardening

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
)

// SeccompSupport is what this kernel and libseccomp offer.
type SeccompSupport struct {
	Linked      bool     `json:"linked"`         // built with cgo and libseccomp
	Libseccomp  string   `json:"libseccomp"`     // library version, e.g. 2.5.4
	API         uint     `json:"api_level"`      // libseccomp's view of the kernel
	Actions     []string `json:"kernel_actions"` // /proc/sys/kernel/seccomp/actions_avail
	KillProcess bool     `json:"kill_process"`   // kernel and libseccomp both have it
	TSync       bool     `json:"tsync"`          // the filter can cover every thread
}

// seccompEntry is one policy entry as `ningen check --seccomp` shows it.
type seccompEntry struct {
	Name  string `json:"name"`
	NR    int    `json:"nr"` // -1 where libseccomp is not linked
	Rule  string `json:"rule,omitempty"`
	Errno int    `json:"errno,omitempty"`
	Why   string `json:"why"`
}

type seccompReport struct {
	Arch            string                    `json:"arch"` // this machine
	SeccompSupport  SeccompSupport            `json:"support"`
	DefaultAction   string                    `json:"default_action"`
	ForeignArch     string                    `json:"foreign_arch_action"`
	Policy          map[string][]seccompEntry `json:"policy"`
	ForbiddenAlways []string                  `json:"never"`
}

// SeccompReport writes the policy for every architecture (system-call
// names, numbers where libseccomp is linked, argument rules and reasons) and
// whether this kernel can enforce it with the kill-process action, as text
// or JSON. It returns an error wrapping ErrSeccompUnavailable (or
// ErrUnsupported off Linux) when G4 cannot hold here, after writing the
// seccompReport, so `ningen check` can exit non-zero.
func SeccompReport(w io.Writer, asJSON bool) error {
	r := seccompReport{Arch: runtime.GOARCH, SeccompSupport: seccompSupport(), DefaultAction: "kill_process",
		ForeignArch: "kill_process", Policy: map[string][]seccompEntry{}, ForbiddenAlways: Never}
	for _, arch := range Arches {
		entries, _ := PolicyFor(arch)
		for _, e := range entries {
			r.Policy[arch] = append(r.Policy[arch], seccompEntry{
				Name: e.Name, NR: syscallNR(e.Name, arch), Rule: e.describe(), Errno: e.Errno, Why: e.Why,
			})
		}
	}
	var err error
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.text(w)
	}
	if err != nil {
		return err
	}
	return seccompSupportError(r.SeccompSupport)
}

func (r seccompReport) text(w io.Writer) error {
	s := r.SeccompSupport
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "seccomp on this host (%s):\n", r.Arch)
	if !s.Linked {
		fmt.Fprintf(tw, "  not available: this build has no libseccomp (linux with cgo only)\n")
	} else {
		fmt.Fprintf(tw, "  kill_process action:\t%s\n", map[bool]string{true: "yes", false: "no"}[s.KillProcess])
		fmt.Fprintf(tw, "  TSYNC (every thread):\t%s\n", map[bool]string{true: "yes", false: "no"}[s.TSync])
		fmt.Fprintf(tw, "  kernel actions:\t%v\n", s.Actions)
		fmt.Fprintf(tw, "  libseccomp:\t%s (API level %d)\n", s.Libseccomp, s.API)
	}
	for _, arch := range Arches {
		fmt.Fprintf(tw, "\npolicy for %s: %d entries; any other call kills ningen (SIGSYS), so does a foreign arch\n", arch, len(r.Policy[arch]))
		for _, e := range r.Policy[arch] {
			nr := "-"
			if e.NR >= 0 {
				nr = fmt.Sprint(e.NR)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Name, nr, e.Rule, e.Why)
		}
	}
	fmt.Fprintf(tw, "\nnever allowed: %v\n", r.ForbiddenAlways)
	return tw.Flush()
}
