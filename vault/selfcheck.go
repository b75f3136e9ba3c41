//go:build unix

package vault

import "unsafe"

// Probe is what SelfCheck found on a real arena.
type Probe struct {
	Backing Backing  // what auto chose here
	Flags   []string // the kernel's VmFlags for the arena's pages ("lo", "dd", ...); nil off Linux
}

// SelfCheck makes a real arena the way ningen run would (--vault auto),
// puts a dummy value in it, and asks the kernel how its pages are flagged,
// so that `ningen check` confirms the protections instead of assuming
// them: a dropped madvise or mlock shows here.
func SelfCheck() (Probe, error) {
	v, err := Open(Auto)
	if err != nil {
		return Probe{}, err
	}
	defer v.Close()
	s, err := v.Join("check", []Part{{Text: "ningen check"}})
	if err != nil {
		return Probe{Backing: v.Backing()}, err
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(s.a.data)))
	flags, err := vmFlags(addr)
	return Probe{Backing: v.Backing(), Flags: flags}, err
}
