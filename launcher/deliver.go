package launcher

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Mode is how a secret reaches the child (SPEC §4).
type Mode string

const (
	ByFD        Mode = "fd"        // an inherited pipe, read once
	ByMemfd     Mode = "memfd"     // a sealed memfd, re-readable, also as /dev/fd/N
	BySecretMem Mode = "secretmem" // a memfd_secret descriptor, read by mmap
	ByEnv       Mode = "env"       // the child's environment; compatibility only
	ByNone      Mode = "none"      // not delivered: only the tools (--tools) use it
)

// ParseMode checks a --deliver value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ByFD, ByMemfd, BySecretMem, ByEnv, ByNone:
		return m, nil
	}
	return "", errors.New("a delivery mode (not shown, in case it is a value) is none of fd, memfd, secretmem, env or none")
}

// byDescriptor reports whether m hands the child a descriptor.
func (m Mode) byDescriptor() bool { return m == ByFD || m == ByMemfd || m == BySecretMem }

// FDEnvPrefix names the variable that tells the child which descriptor
// holds a secret: NINGEN_FD_<NAME>=N.
const FDEnvPrefix = "NINGEN_FD_"

// firstFD is the child's descriptor for the first fd delivery; 0–2 are
// its standard streams.
const firstFD = 3

var placeholder = regexp.MustCompile(`\{\{(fd|path):([A-Za-z_][A-Za-z0-9_]*)\}\}`)

// ExpandArgs replaces {{fd:NAME}} with the child's descriptor number for
// NAME and {{path:NAME}} with /dev/fd/N. fds maps names to descriptor
// numbers; a placeholder naming anything else is an error.
func ExpandArgs(args []string, fds map[string]int) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		var bad error
		out[i] = placeholder.ReplaceAllStringFunc(a, func(m string) string {
			sub := placeholder.FindStringSubmatch(m)
			fd, ok := fds[sub[2]]
			if !ok {
				bad = fmt.Errorf("argument %d: {{%s:…}} names no secret delivered by descriptor (not shown, in case it is a value)%s",
					i+1, sub[1], byDescriptor(fds))
				return m
			}
			if sub[1] == "path" {
				return "/dev/fd/" + strconv.Itoa(fd)
			}
			return strconv.Itoa(fd)
		})
		if bad != nil {
			return nil, bad
		}
	}
	return out, nil
}

// byDescriptor lists the names of fds for an error: names are never
// secret, and a mistyped one is not repeated.
func byDescriptor(fds map[string]int) string {
	if len(fds) == 0 {
		return ": no secret is delivered by descriptor"
	}
	return ": by descriptor are " + strings.Join(slices.Sorted(maps.Keys(fds)), ", ")
}

// FDNumbers assigns child descriptors, in order, to the secrets delivered
// by descriptor.
func FDNumbers(names []string, modes map[string]Mode) map[string]int {
	fds := make(map[string]int)
	next := firstFD
	for _, n := range names {
		if modes[n].byDescriptor() {
			fds[n] = next
			next++
		}
	}
	return fds
}
