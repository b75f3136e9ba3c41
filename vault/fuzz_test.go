package vault_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ningen-shikkaku/ningen/vault"
)

// validName is SPEC §3's [A-Za-z_][A-Za-z0-9_]*, written out by hand.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

var kinds = []vault.Kind{vault.FromFile, vault.FromEnv, vault.FromExec, vault.FromStdin, vault.FromPrompt, vault.FromFD}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"A=file:/run/secrets/a", "B=env:HOME", "C=exec:pass show openai", "D=stdin",
		"E=prompt", "F=prompt:Key: ", "F=prompt:", "G=fd:3", "G=fd:0", "H_1=exec:a=b; echo ::",
		"=file:x", "1A=stdin", "A-B=stdin", "A=fd:-1", "A=fd:03", "A=fd:+3", "A=fd:", "A=fd:99999999999999999999",
		"A=stdin:x", "A=env:", "A=env:1X", "A=file:", "A=exec:", "A=bogus", "A", "A=", "é=stdin", "A\n=stdin",
		"A=env:HOME\n", "A=file:a\x00b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, _, _ := strings.Cut(s, "=")
		if vault.ValidName(name) != validName(name) {
			t.Fatalf("ValidName(%q) = %v, want %v", name, vault.ValidName(name), validName(name))
		}
		spec, err := vault.ParseSpec(s)
		if err != nil {
			if spec != (vault.Spec{}) {
				t.Errorf("ParseSpec(%q) failed but returned %+v", s, spec)
			}
			return
		}
		if !vault.ValidName(spec.Name) || !validName(spec.Name) {
			t.Fatalf("ParseSpec(%q) accepted the name %q", s, spec.Name)
		}
		if spec.Name != name {
			t.Errorf("ParseSpec(%q).Name = %q, want %q", s, spec.Name, name)
		}
		known := false
		for _, k := range kinds {
			known = known || spec.Source.Kind == k
		}
		if !known {
			t.Errorf("ParseSpec(%q) accepted the kind %q", s, spec.Source.Kind)
		}
		arg := spec.Source.Arg
		switch spec.Source.Kind {
		case vault.FromFD:
			if n, err := strconv.Atoi(arg); err != nil || n < 0 || strconv.Itoa(n) != arg {
				t.Errorf("ParseSpec(%q) accepted the descriptor %q", s, arg)
			}
		case vault.FromEnv:
			if !validName(arg) {
				t.Errorf("ParseSpec(%q) accepted the variable %q", s, arg)
			}
		case vault.FromFile, vault.FromExec:
			if arg == "" {
				t.Errorf("ParseSpec(%q) accepted %s with no argument", s, spec.Source.Kind)
			}
		case vault.FromStdin:
			if s != spec.Name+"=stdin" {
				t.Errorf("ParseSpec(%q) accepted stdin with an argument", s)
			}
		}
		text := spec.Source.String()
		src, err := vault.ParseSource(text)
		if err != nil {
			t.Fatalf("ParseSource(%q), from ParseSpec(%q), failed: %v", text, s, err)
		}
		if src != spec.Source {
			t.Errorf("ParseSource(%q) = %+v, want %+v", text, src, spec.Source)
		}
		again, err := vault.ParseSpec(spec.Name + "=" + text)
		if err != nil || again != spec {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", spec.Name+"="+text, again, err, spec)
		}
	})
}
