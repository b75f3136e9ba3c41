// Package hardening makes the ningen process itself a poor place to look
// for secrets: no core dumps, not dumpable (so same-UID processes can neither
// ptrace it nor read /proc/PID/mem), no descriptor leaking into the child.
// Off Linux the protections that do not exist return ErrUnsupported, and
// Missing names the guarantees that do not hold, for a loud notice.
package hardening

import "errors"

// ErrUnsupported is returned where the platform has no such protection.
var ErrUnsupported = errors.New("not supported on this platform")
