package vault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind names where a secret comes from (SPEC §3).
type Kind string

const (
	FromFile   Kind = "file"
	FromEnv    Kind = "env"
	FromExec   Kind = "exec"
	FromStdin  Kind = "stdin"
	FromPrompt Kind = "prompt"
	FromFD     Kind = "fd"
)

// Source is a parsed SOURCE: a kind and its argument. It never holds a value.
type Source struct {
	Kind Kind
	Arg  string // path, variable, command, prompt text or descriptor number
}

// String names the source for messages; it is safe to print.
func (s Source) String() string {
	if s.Arg == "" {
		return string(s.Kind)
	}
	return string(s.Kind) + ":" + s.Arg
}

// Spec is one -s NAME=SOURCE.
type Spec struct {
	Name   string
	Source Source
}

// ValidName reports whether name may name a secret: [A-Za-z_][A-Za-z0-9_]*,
// a name every shell accepts as a variable.
func ValidName(name string) bool {
	for i, c := range []byte(name) {
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return name != ""
}

// ParseSpec parses NAME=SOURCE.
func ParseSpec(s string) (Spec, error) {
	// A mistyped -s may carry the value itself (-s KEY:sk-live-...), so
	// what cannot be parsed is never echoed back.
	name, src, ok := strings.Cut(s, "=")
	if !ok {
		return Spec{}, errors.New("a -s argument has no '=' (not shown, in case it holds a value): want NAME=SOURCE")
	}
	if !ValidName(name) {
		return Spec{}, errors.New("a -s argument's name (not shown) is not [A-Za-z_][A-Za-z0-9_]*: want NAME=SOURCE")
	}
	if src == "" || strings.HasPrefix(src, "=") { // base64 padding: the value itself, most likely
		return Spec{}, errors.New("a -s argument has nothing after its '=' (not shown, in case it is a value ending in '='): want NAME=SOURCE")
	}
	source, err := ParseSource(src)
	if err != nil {
		return Spec{}, fmt.Errorf("secret %s: %w", name, err)
	}
	return Spec{Name: name, Source: source}, nil
}

// ParseSource parses one SOURCE of the table in SPEC §3. Its errors never
// repeat the argument: a value typed for it (env:$TOKEN) would show.
func ParseSource(s string) (Source, error) {
	kind, arg, hasArg := strings.Cut(s, ":")
	src := Source{Kind: Kind(kind), Arg: arg}
	switch src.Kind {
	case FromStdin:
		if hasArg {
			return Source{}, errors.New("source stdin: takes no argument (not shown, in case it is a value)")
		}
		return src, nil
	case FromPrompt:
		return src, nil
	case FromFile, FromExec:
		if arg == "" {
			return Source{}, fmt.Errorf("source %q: %s needs an argument", s, kind)
		}
		return src, nil
	case FromEnv:
		if !ValidName(arg) {
			return Source{}, errors.New("source env: needs a variable name, [A-Za-z_][A-Za-z0-9_]* (what was given is not shown, in case it is a value)")
		}
		return src, nil
	case FromFD:
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || strconv.Itoa(n) != arg {
			return Source{}, errors.New("source fd: needs a descriptor number (what was given is not shown, in case it is a value)")
		}
		return src, nil
	}
	return Source{}, errors.New("unknown source kind (not shown, in case it is the value itself): want file:, env:, exec:, stdin, prompt[:TEXT] or fd:N")
}
