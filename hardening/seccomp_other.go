//go:build !linux || !cgo

package hardening

import (
	"fmt"
	"time"
)

// Without Linux and cgo there is no libseccomp: every entry point returns
// ErrUnsupported and the caller decides, loudly (run refuses unless
// --seccomp=off; check reports G4 as not holding).

// Filter is a compiled filter; it cannot exist in this build.
type Filter struct{}

// Confined is what Load found once the filter was in place.
type Confined struct {
	Mode    SeccompMode
	Rules   int
	Threads int
	Filters int
	Took    time.Duration
}

// NewFilter returns ErrUnsupported: this build has no libseccomp.
func NewFilter(SeccompMode) (*Filter, error) {
	return nil, fmt.Errorf("seccomp: %w (needs linux with cgo and libseccomp)", ErrUnsupported)
}

// Load returns ErrUnsupported.
func (*Filter) Load() (Confined, error) { return Confined{}, ErrUnsupported }

// Release does nothing.
func (*Filter) Release() {}

// SeccompProgram returns ErrUnsupported.
func SeccompProgram(string, SeccompMode) ([]byte, error) { return nil, ErrUnsupported }

func seccompSupport() SeccompSupport { return SeccompSupport{} }

func syscallNR(string, string) int { return -1 }
