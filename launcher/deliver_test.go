package launcher_test

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ningen-shikkaku/ningen/launcher"
)

func TestExpandArgs(t *testing.T) {
	fds := map[string]int{"A": 3, "DB_PASS": 4, "_x9": 17}
	for _, tc := range []struct {
		name string
		args []string
		want []string // nil: an error is expected
	}{
		{"no placeholders", []string{"mysql", "-v", "--", ""}, []string{"mysql", "-v", "--", ""}},
		{"fd", []string{"{{fd:A}}"}, []string{"3"}},
		{"path", []string{"{{path:A}}"}, []string{"/dev/fd/3"}},
		{"text around", []string{"--defaults-extra-file={{path:DB_PASS}}.cnf"}, []string{"--defaults-extra-file=/dev/fd/4.cnf"}},
		{"several in one argument", []string{"{{fd:A}},{{path:_x9}}:{{fd:DB_PASS}}{{fd:A}}"}, []string{"3,/dev/fd/17:43"}},
		{"several arguments", []string{"cmd", "--in={{fd:A}}", "--out={{path:_x9}}"}, []string{"cmd", "--in=3", "--out=/dev/fd/17"}},
		{"unknown name", []string{"cmd", "{{fd:B}}"}, nil},
		{"unknown name beside a known one", []string{"{{fd:A}}{{path:NOPE}}"}, nil},
		{"names are case-sensitive", []string{"{{fd:a}}"}, nil},
		{"not a placeholder: bad name", []string{"{{fd:1A}}", "{{fd:}}", "{{fd:A-B}}"}, []string{"{{fd:1A}}", "{{fd:}}", "{{fd:A-B}}"}},
		{"not a placeholder: other kind", []string{"{{env:A}}", "{{FD:A}}", "{{ fd:A }}"}, []string{"{{env:A}}", "{{FD:A}}", "{{ fd:A }}"}},
		{"not a placeholder: unclosed", []string{"{{fd:A}", "{fd:A}}", "{{path:A"}, []string{"{{fd:A}", "{fd:A}}", "{{path:A"}},
		{"braces around a placeholder", []string{"{{{fd:A}}}"}, []string{"{3}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.args)
			got, err := launcher.ExpandArgs(tc.args, fds)
			if !slices.Equal(in, tc.args) {
				t.Errorf("ExpandArgs changed its input: %q", tc.args)
			}
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ExpandArgs(%q) = %q, want an error", tc.args, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExpandArgs(%q): %v", tc.args, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ExpandArgs(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
}

// TestExpandArgsErrorNamesArgument: the error points at the argument and
// lists the names it could have meant, but does not repeat the one given:
// a token pasted there looks like a name.
func TestExpandArgsErrorNamesArgument(t *testing.T) {
	_, err := launcher.ExpandArgs([]string{"cmd", "ok", "--x={{path:GHP_MISSING}}"}, map[string]int{"B": 4, "A": 3})
	if err == nil {
		t.Fatal("no error for an unknown name")
	}
	msg := err.Error()
	if !strings.Contains(msg, "argument 3") || !strings.Contains(msg, "{{path:") || !strings.Contains(msg, "A, B") {
		t.Errorf("error %q does not point at argument 3 and its placeholder, with the names by descriptor", err)
	}
	if strings.Contains(msg, "GHP_MISSING") {
		t.Errorf("error %q repeats the name given", err)
	}
}

// expand is a hand-written reference for ExpandArgs on one argument.
func expand(s string, fds map[string]int) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); {
		kind, rest, ok := "", "", false
		for _, k := range []string{"fd", "path"} {
			if r, found := strings.CutPrefix(s[i:], "{{"+k+":"); found {
				kind, rest, ok = k, r, true
			}
		}
		if ok {
			n := 0
			for n < len(rest) && (rest[n] == '_' || 'a' <= rest[n] && rest[n] <= 'z' || 'A' <= rest[n] && rest[n] <= 'Z' || n > 0 && '0' <= rest[n] && rest[n] <= '9') {
				n++
			}
			if n > 0 && strings.HasPrefix(rest[n:], "}}") {
				fd, known := fds[rest[:n]]
				if !known {
					return "", false
				}
				if kind == "path" {
					b.WriteString("/dev/fd/")
				}
				b.WriteString(strconv.Itoa(fd))
				i += len("{{"+kind+":") + n + len("}}")
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), true
}

func FuzzExpandArgs(f *testing.F) {
	for _, s := range []string{"", "plain", "{{fd:A}}", "{{path:B_2}}", "x{{fd:A}}y{{path:A}}z", "{{fd:C}}", "{{fd:1}}",
		"{{{fd:A}}}", "{{fd:A}", "{{fd:A}}}}", "{{path:{{fd:A}}}}", "\xff{{fd:A}}\xfe", "{{fd:A}}{{fd:UNKNOWN}}"} {
		f.Add(s, "--in={{fd:A}}")
	}
	fds := map[string]int{"A": 3, "B_2": 4, "long_NAME_0": 1017}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := launcher.ExpandArgs([]string{a, b}, fds)
		wantA, okA := expand(a, fds)
		wantB, okB := expand(b, fds)
		if !okA || !okB {
			if err == nil {
				t.Fatalf("ExpandArgs(%q, %q) = %q, want an error for an unknown name", a, b, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("ExpandArgs(%q, %q): %v", a, b, err)
		}
		if len(got) != 2 || got[0] != wantA || got[1] != wantB {
			t.Fatalf("ExpandArgs(%q, %q) = %q, want %q", a, b, got, []string{wantA, wantB})
		}
	})
}

func TestFDNumbers(t *testing.T) {
	t.Run("in order, from 3, descriptor modes only", func(t *testing.T) {
		names := []string{"Z", "ENV1", "A", "M", "S", "ENV2", "B"}
		modes := map[string]launcher.Mode{
			"Z": launcher.ByFD, "ENV1": launcher.ByEnv, "A": launcher.ByFD, "M": launcher.ByMemfd,
			"S": launcher.BySecretMem, "ENV2": launcher.ByEnv, "B": launcher.ByFD,
		}
		want := map[string]int{"Z": 3, "A": 4, "M": 5, "S": 6, "B": 7}
		for range 20 { // map iteration order must not matter
			if got := launcher.FDNumbers(names, modes); !maps.Equal(got, want) {
				t.Fatalf("FDNumbers = %v, want %v", got, want)
			}
		}
	})
	t.Run("order of names decides", func(t *testing.T) {
		modes := map[string]launcher.Mode{"A": launcher.ByFD, "B": launcher.ByFD}
		if got := launcher.FDNumbers([]string{"B", "A"}, modes); !maps.Equal(got, map[string]int{"B": 3, "A": 4}) {
			t.Errorf("FDNumbers(B, A) = %v", got)
		}
	})
	t.Run("none", func(t *testing.T) {
		if got := launcher.FDNumbers(nil, nil); len(got) != 0 {
			t.Errorf("FDNumbers(nil) = %v", got)
		}
		if got := launcher.FDNumbers([]string{"E"}, map[string]launcher.Mode{"E": launcher.ByEnv}); len(got) != 0 {
			t.Errorf("an env delivery got a descriptor: %v", got)
		}
	})
	t.Run("a name without a mode gets no descriptor", func(t *testing.T) {
		// The session opens descriptors only for fd, memfd and secretmem
		// deliveries; a number for anything else would point the child at
		// the wrong descriptor.
		got := launcher.FDNumbers([]string{"X", "A"}, map[string]launcher.Mode{"A": launcher.ByFD})
		if !maps.Equal(got, map[string]int{"A": 3}) {
			t.Errorf("FDNumbers with X unset = %v, want only A:3", got)
		}
	})
}

func TestParseMode(t *testing.T) {
	for _, m := range []string{"fd", "memfd", "secretmem", "env"} {
		if got, err := launcher.ParseMode(m); err != nil || string(got) != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, m := range []string{"", "FD", "pipe", "fd "} {
		if _, err := launcher.ParseMode(m); err == nil {
			t.Errorf("ParseMode(%q) accepted", m)
		}
	}
}
