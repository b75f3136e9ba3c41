//go:build linux

package vault

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// vmFlags reads the VmFlags line of the mapping that starts at addr in
// /proc/self/smaps.
func vmFlags(addr uintptr) ([]string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if r, _, ok := strings.Cut(line, " "); ok && strings.Contains(r, "-") && !strings.HasSuffix(r, ":") {
			lo, _, _ := strings.Cut(r, "-")
			start, err := strconv.ParseUint(lo, 16, 64)
			in = err == nil && uintptr(start) == addr
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.Fields(rest), nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no mapping at %#x in /proc/self/smaps", addr)
}
