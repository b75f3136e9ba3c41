package vault

import (
	"runtime"
	"slices"
	"testing"
)

// The check reads the kernel's own flags for a real arena: locked and not
// dumped, whichever backing auto picks.
func TestSelfCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: smaps")
	}
	p, err := SelfCheck()
	if err != nil {
		t.Skipf("cannot make an arena here (locked-memory limit?): %v", err)
	}
	for _, want := range []string{"lo", "dd"} {
		if !slices.Contains(p.Flags, want) {
			t.Errorf("arena (%s) VmFlags %v lack %q", p.Backing, p.Flags, want)
		}
	}
	if want := Locked; !HaveSecretMem() && p.Backing != want {
		t.Errorf("auto chose %s on a kernel without memfd_secret", p.Backing)
	}
}
