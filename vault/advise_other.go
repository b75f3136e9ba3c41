//go:build unix && !linux

package vault

// adviseNoDump has nothing to ask for off Linux: there is no MADV_DONTDUMP.
// The platform notice names G3 as not holding here.
func adviseNoDump([]byte) error { return nil }
