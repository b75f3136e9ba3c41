package motokano

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseIssueExample(t *testing.T) {
	cfg, err := Load("../testdata/motokano/issue.toml", []string{"API_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tools) != 2 {
		t.Fatalf("got %d tools, want 2", len(cfg.Tools))
	}
	h, w := cfg.Tools[0], cfg.Tools[1]
	if h.Name != "api_header" || h.Kind != Static || h.Description != "Authorization header for the staging API" {
		t.Errorf("api_header = %+v", h)
	}
	if len(h.Value) != 2 || h.Value[0].Text != "Bearer " || h.Value[1].Secret != "API_TOKEN" {
		t.Errorf("api_header value = %+v", h.Value)
	}
	if w.Name != "whoami" || w.Kind != Exec || w.Deliver != ByEnv || w.Timeout != 5*time.Second ||
		w.MaxOutput != DefaultMaxOutput || strings.Join(w.Command, "|") != `sh|-c|printf 'token=%s' "$API_TOKEN"` ||
		len(w.Secrets) != 1 || w.Secrets[0] != "API_TOKEN" {
		t.Errorf("whoami = %+v", w)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "[tools.a]\nkind = \"static\"\n"
	for _, c := range []struct {
		name, file, want string
	}{
		{"unknown key", head + "value = \"x\"\nvalu = \"y\"\n", `t.toml:4: tools.a: unknown key "valu"`},
		{"unknown top key", "tool = 1\n", `t.toml:1: unknown key "tool"`},
		{"unknown secret in value", head + "value = \"{{secret:NOPE}}\"\n", "t.toml:3: tools.a.value: no secret NOPE: give it with -s NOPE=SOURCE"},
		{"unknown secret in list", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\nsecrets = [\"S\", \"NOPE\"]\n", "t.toml:4: tools.e.secrets: no secret NOPE"},
		{"secret twice", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\nsecrets = [\"S\", \"S\"]\n", "t.toml:4: tools.e.secrets: S is listed twice"},
		{"duplicate tool", head + "value = \"x\"\n[tools.a]\nkind = \"static\"\n", "t.toml:4:"},
		{"duplicate key", head + "value = \"x\"\nvalue = \"y\"\n", "t.toml:4:"},
		{"bad placeholder", head + "value = \"Bearer {{secret:S}\"\n", "t.toml:3: tools.a.value: bad placeholder"},
		{"fd placeholder in value", head + "value = \"{{fd:S}}\"\n", "t.toml:3: tools.a.value: bad placeholder"},
		{"bad kind", "[tools.a]\nkind = \"shell\"\n", `t.toml:2: tools.a.kind: "shell" is no kind`},
		{"no kind", "[tools.a]\nvalue = \"x\"\n", "t.toml:1: tools.a: no kind"},
		{"static without value", "[tools.a]\nkind = \"static\"\n", "t.toml:1: tools.a: a static tool needs a value"},
		{"static with command", head + "value = \"x\"\ncommand = [\"true\"]\n", "t.toml:1: tools.a: command is for exec tools only"},
		{"exec without command", "[tools.e]\nkind = \"exec\"\n", "t.toml:1: tools.e: an exec tool needs a command"},
		{"exec with value", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\nvalue = \"x\"\n", "t.toml:1: tools.e: value is for static tools only"},
		{"empty command", "[tools.e]\nkind = \"exec\"\ncommand = []\n", "t.toml:3: tools.e.command: want the command"},
		{"command not a list", "[tools.e]\nkind = \"exec\"\ncommand = \"true\"\n", "t.toml:3: tools.e.command: want a list of strings"},
		{"secret in argv", "[tools.e]\nkind = \"exec\"\ncommand = [\"echo\", \"{{secret:S}}\"]\n", "t.toml:3: tools.e.command: argument 2: {{secret:...}}"},
		{"fd placeholder for env delivery", "[tools.e]\nkind = \"exec\"\ncommand = [\"cat\", \"{{path:S}}\"]\nsecrets = [\"S\"]\ndeliver = \"env\"\n", "t.toml:3: tools.e.command: argument 2: {{path:…}} names no secret delivered by descriptor (not shown, in case it is a value): no secret is delivered by descriptor"},
		{"bad deliver", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\ndeliver = \"memfd\"\n", `t.toml:4: tools.e.deliver: "memfd"`},
		{"bad timeout", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\ntimeout = \"soon\"\n", `t.toml:4: tools.e.timeout: "soon"`},
		{"negative timeout", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\ntimeout = \"-1s\"\n", `t.toml:4: tools.e.timeout`},
		{"bad max_output", "[tools.e]\nkind = \"exec\"\ncommand = [\"true\"]\nmax_output = 0\n", "t.toml:4: tools.e.max_output"},
		{"bad name", "[tools.\"a b\"]\nkind = \"static\"\nvalue = \"x\"\n", `t.toml:1: tool name "a b"`},
		{"syntax", "[tools.a\n", "t.toml:2: expected"},
		{"no tools", "", "t.toml: declares no tools"},
		{"empty tools", "[tools]\n", "t.toml: declares no tools"},
		{"tool not a table", "[tools]\na = 1\n", "t.toml:2:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(c.file), []string{"S"})
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is no *FileError", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error\n  %s\nwant it to start with\n  %s", err, c.want)
			}
		})
	}
}

func TestParseExecExpandsDescriptors(t *testing.T) {
	cfg, err := Parse("t.toml", []byte(`[tools.e]
kind = "exec"
command = ["cat", "{{path:B}}", "{{fd:A}}"]
secrets = ["A", "B"]
max_output = 10
`), []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Tools[0]
	if got := strings.Join(e.Command, " "); got != "cat /dev/fd/4 3" {
		t.Errorf("command = %q", got)
	}
	if e.Deliver != ByFD || e.MaxOutput != 10 || e.Timeout != DefaultTimeout {
		t.Errorf("tool = %+v", e)
	}
}

func TestParseInlineTables(t *testing.T) {
	cfg, err := Parse("t.toml", []byte("tools.a = { kind = \"static\", value = \"x{{secret:S}}y\" }\n"), []string{"S"})
	if err != nil {
		t.Fatal(err)
	}
	if v := cfg.Tools[0].Value; len(v) != 3 || v[1].Secret != "S" {
		t.Errorf("value = %+v", v)
	}
}

// FuzzParse: any input either parses into tools that satisfy the checks or
// fails with a FileError; it never panics, and never accepts a secret that
// was not given.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../testdata/motokano/issue.toml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("[tools.a]\nkind = \"static\"\nvalue = \"{{secret:S}}{{\"\n"))
	f.Add([]byte("tools.a = { kind = \"exec\", command = [\"x\", \"{{fd:S}}\"], secrets = [\"S\"] }\n"))
	f.Add([]byte("[tools.a.b]\nc = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.toml", data, []string{"S", "API_TOKEN"})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is no *FileError: %v", err, err)
			}
			return
		}
		for _, tool := range cfg.Tools {
			if !toolName().MatchString(tool.Name) {
				t.Fatalf("accepted tool name %q", tool.Name)
			}
			switch tool.Kind {
			case Static:
				for _, p := range tool.Value {
					if p.Secret != "" && p.Secret != "S" && p.Secret != "API_TOKEN" {
						t.Fatalf("accepted secret %q", p.Secret)
					}
				}
				if valueLen(tool.Value) == 0 {
					t.Fatal("accepted an empty value")
				}
			case Exec:
				if len(tool.Command) == 0 || tool.Timeout <= 0 || tool.MaxOutput <= 0 {
					t.Fatalf("accepted %+v", tool)
				}
			default:
				t.Fatalf("accepted kind %q", tool.Kind)
			}
		}
	})
}
