//go:build unix && !linux

package vault

import "errors"

// vmFlags has no smaps to read here.
func vmFlags(uintptr) ([]string, error) {
	return nil, errors.New("no /proc/self/smaps on this platform")
}
