package motokano

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/ningen-shikkaku/ningen/launcher"
)

// Kind is what a tool does when it is called.
type Kind string

const (
	Static Kind = "static" // text from the vault: a secret or a template over secrets
	Exec   Kind = "exec"   // a command run with secrets; its masked stdout
)

// Deliver is how an exec tool receives its secrets (SPEC §4).
type Deliver string

const (
	ByFD  Deliver = "fd"  // an inherited pipe per secret, named by NINGEN_FD_<NAME>
	ByEnv Deliver = "env" // the tool's environment
)

// Defaults and bounds of an exec tool.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultMaxOutput = 1 << 20
	maxMaxOutput     = 64 << 20
)

// Tool is one declared tool, checked.
type Tool struct {
	Name        string
	Kind        Kind
	Description string
	Value       []Part        // static: the template, in order
	Command     []string      // exec: argv; {{fd:NAME}} and {{path:NAME}} expanded
	Secrets     []string      // exec: the secrets it receives, in order
	Deliver     Deliver       // exec: how it receives them
	Timeout     time.Duration // exec: killed, with its process group, after this
	MaxOutput   int           // exec: stdout beyond this many bytes is dropped
}

// Part is one piece of a static value: literal text, or a secret's name.
type Part struct {
	Text   string
	Secret string // non-empty: the value of this secret
}

// Config is a parsed tools file.
type Config struct {
	Path  string
	Tools []*Tool // in file order
}

// FileError is a mistake in a tools file, with where it is when the TOML
// library knows (Line 0 when it does not).
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and checks a tools file. secrets are the names given with -s:
// a tool may use no others.
func Load(path string, secrets []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tools file: %w", err)
	}
	return Parse(path, data, secrets)
}

// toolName is MCP's rule for tool names. Compiled on first use, not at
// start: every `ningen run` would pay for it otherwise.
var toolName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`) })

// Parse checks a tools file's contents; file names it in errors.
//
// Every value is decoded as a toml.Primitive and then handed to a small
// unmarshaler that checks it. The library turns an unmarshaler's error into
// a ParseError at that key's line, which is how every mistake, unknown keys
// included, gets its file:line.
func Parse(file string, data []byte, secrets []string) (*Config, error) {
	p := &parser{file: file, known: secrets}
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		return nil, p.wrap(err)
	}
	p.md = &md
	for _, k := range keys(p.md, nil, top) {
		if k != "tools" {
			return nil, p.fail(top[k], "unknown key %q: a tools file has only [tools.NAME] tables", k)
		}
	}
	prim, ok := top["tools"]
	if !ok {
		return nil, &FileError{File: file, Msg: "declares no tools: add a [tools.NAME] table"}
	}
	var tables map[string]toml.Primitive
	if err := md.PrimitiveDecode(prim, &tables); err != nil {
		return nil, p.wrap(err)
	}
	cfg := &Config{Path: file}
	for _, name := range keys(p.md, []string{"tools"}, tables) {
		t, err := p.tool(name, tables[name])
		if err != nil {
			return nil, err
		}
		cfg.Tools = append(cfg.Tools, t)
	}
	if len(cfg.Tools) == 0 {
		return nil, &FileError{File: file, Msg: "declares no tools: add a [tools.NAME] table"}
	}
	return cfg, nil
}

type parser struct {
	file  string
	known []string
	md    *toml.MetaData
}

// keys lists the keys of table (the keys directly under parent) in file
// order, as far as the library lists them, then any others sorted.
func keys[V any](md *toml.MetaData, parent []string, table map[string]V) []string {
	var out []string
	for _, k := range md.Keys() {
		if len(k) == len(parent)+1 && slices.Equal(k[:len(parent)], parent) && !slices.Contains(out, k[len(parent)]) {
			if _, ok := table[k[len(parent)]]; ok {
				out = append(out, k[len(parent)])
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(table)) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// check adapts a function to toml.Unmarshaler, so that its error comes back
// as a ParseError at the key being decoded.
type check func(data any) error

func (c check) UnmarshalTOML(data any) error { return c(data) }

// fail returns an error at prim's line.
func (p *parser) fail(prim toml.Primitive, format string, a ...any) error {
	msg := fmt.Errorf(format, a...)
	return p.wrap(p.md.PrimitiveDecode(prim, check(func(any) error { return msg })))
}

// wrap turns the library's errors into FileErrors.
func (p *parser) wrap(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &FileError{File: p.file, Line: pe.Position.Line, Msg: pe.Message}
	}
	return &FileError{File: p.file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}

func (p *parser) tool(name string, prim toml.Primitive) (*Tool, error) {
	if !toolName().MatchString(name) {
		return nil, p.fail(prim, "tool name %q: use 1 to 128 letters, digits, '_', '-' or '.'", name)
	}
	var fields map[string]toml.Primitive
	if err := p.md.PrimitiveDecode(prim, &fields); err != nil {
		return nil, p.wrap(err)
	}
	t := &Tool{Name: name, Deliver: ByFD, Timeout: DefaultTimeout, MaxOutput: DefaultMaxOutput}
	where := "tools." + name
	for _, key := range keys(p.md, []string{"tools", name}, fields) {
		fn := p.field(t, where+"."+key, key)
		if fn == nil {
			return nil, p.fail(fields[key], "%s: unknown key %q (want kind, description, value, command, secrets, deliver, timeout, max_output)", where, key)
		}
		if err := p.md.PrimitiveDecode(fields[key], check(fn)); err != nil {
			return nil, p.wrap(err)
		}
	}
	if msg := t.complete(slices.Collect(maps.Keys(fields))); msg != "" {
		return nil, p.fail(prim, "%s: %s", where, msg)
	}
	return t, t.expand(func(msg string) error { return p.fail(fields["command"], "%s.command: %s", where, msg) })
}

// field returns the checker for one key of a tool, or nil for an unknown key.
func (p *parser) field(t *Tool, where, key string) func(any) error {
	switch key {
	case "kind":
		return str(where, func(s string) error {
			switch k := Kind(s); k {
			case Static, Exec:
				t.Kind = k
				return nil
			}
			return fmt.Errorf("%s: %q is no kind: want \"static\" or \"exec\"", where, s)
		})
	case "description":
		return str(where, func(s string) error { t.Description = s; return nil })
	case "value":
		return str(where, func(s string) (err error) {
			t.Value, err = parseTemplate(s, p.known)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			return nil
		})
	case "command":
		return strs(where, func(argv []string) error {
			if len(argv) == 0 || argv[0] == "" {
				return fmt.Errorf("%s: want the command and its arguments, like [\"sh\", \"-c\", \"...\"]", where)
			}
			t.Command = argv
			return nil
		})
	case "secrets":
		return strs(where, func(names []string) error {
			for i, n := range names {
				if !slices.Contains(p.known, n) {
					return fmt.Errorf("%s: %s", where, unknownSecret(n))
				}
				if slices.Contains(names[:i], n) {
					return fmt.Errorf("%s: %s is listed twice", where, n)
				}
			}
			t.Secrets = names
			return nil
		})
	case "deliver":
		return str(where, func(s string) error {
			switch d := Deliver(s); d {
			case ByFD, ByEnv:
				t.Deliver = d
				return nil
			}
			return fmt.Errorf("%s: %q: want \"fd\" (a pipe per secret, NINGEN_FD_<NAME>) or \"env\"", where, s)
		})
	case "timeout":
		return str(where, func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s: %q: want a positive duration like \"5s\" or \"2m\"", where, s)
			}
			t.Timeout = d
			return nil
		})
	case "max_output":
		return func(data any) error {
			n, ok := data.(int64)
			if !ok || n <= 0 || n > maxMaxOutput {
				return fmt.Errorf("%s: want a number of bytes from 1 to %d", where, maxMaxOutput)
			}
			t.MaxOutput = int(n)
			return nil
		}
	}
	return nil
}

func str(where string, set func(string) error) func(any) error {
	return func(data any) error {
		s, ok := data.(string)
		if !ok {
			return fmt.Errorf("%s: want a string", where)
		}
		return set(s)
	}
}

func strs(where string, set func([]string) error) func(any) error {
	return func(data any) error {
		list, ok := data.([]any)
		if !ok {
			return fmt.Errorf("%s: want a list of strings", where)
		}
		out := make([]string, len(list))
		for i, v := range list {
			if out[i], ok = v.(string); !ok {
				return fmt.Errorf("%s: item %d is not a string", where, i+1)
			}
		}
		return set(out)
	}
}

func unknownSecret(name string) string {
	return fmt.Sprintf("no secret %s: give it with -s %s=SOURCE", name, name)
}

// complete checks the keys a tool's kind needs and forbids; it returns what
// is wrong, or "".
func (t *Tool) complete(keys []string) string {
	execOnly := []string{"command", "secrets", "deliver", "timeout", "max_output"}
	switch t.Kind {
	case "":
		return `no kind: add kind = "static" or kind = "exec"`
	case Static:
		if !slices.Contains(keys, "value") {
			return `a static tool needs a value, like value = "Bearer {{secret:API_TOKEN}}"`
		}
		for _, k := range execOnly {
			if slices.Contains(keys, k) {
				return fmt.Sprintf("%s is for exec tools only", k)
			}
		}
		if valueLen(t.Value) == 0 {
			return "the value is empty"
		}
	case Exec:
		if !slices.Contains(keys, "command") {
			return `an exec tool needs a command, like command = ["sh", "-c", "..."]`
		}
		if slices.Contains(keys, "value") {
			return "value is for static tools only"
		}
	}
	return ""
}

func valueLen(parts []Part) int {
	n := 0
	for _, p := range parts {
		n += len(p.Text) + len(p.Secret)
	}
	return n
}

// expand replaces {{fd:NAME}} and {{path:NAME}} in an exec tool's command
// with the descriptor the tool will find NAME on (fd delivery only) and
// refuses {{secret:NAME}}: a value never goes into argv.
func (t *Tool) expand(fail func(string) error) error {
	if t.Kind != Exec {
		return nil
	}
	for i, a := range t.Command {
		if strings.Contains(a, "{{secret:") {
			return fail(fmt.Sprintf("argument %d: {{secret:...}} would put a value in argv, where every process can read it; deliver it instead", i+1))
		}
	}
	fds := map[string]int{}
	if t.Deliver == ByFD {
		for i, n := range t.Secrets {
			fds[n] = firstToolFD + i
		}
	}
	argv, err := launcher.ExpandArgs(t.Command, fds)
	if err != nil {
		return fail(err.Error())
	}
	t.Command = argv
	return nil
}

// firstToolFD is the tool's descriptor for its first fd-delivered secret;
// 0–2 are /dev/null, the stdout pipe and /dev/null.
const firstToolFD = 3

// secretRef matches one placeholder of a static value.
var secretRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\{\{secret:([A-Za-z_][A-Za-z0-9_]*)\}\}`)
})

// parseTemplate splits a static value into text and {{secret:NAME}}
// placeholders. Any other "{{" is an error, so a typo cannot pass as text.
func parseTemplate(s string, known []string) ([]Part, error) {
	var parts []Part
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			parts = append(parts, Part{Text: s})
			break
		}
		if i > 0 {
			parts = append(parts, Part{Text: s[:i]})
			s = s[i:]
		}
		m := secretRef().FindStringSubmatch(s)
		if m == nil {
			end := min(len(s), 24)
			return nil, fmt.Errorf("bad placeholder at %q: want {{secret:NAME}}", s[:end])
		}
		if !slices.Contains(known, m[1]) {
			return nil, fmt.Errorf("%s", unknownSecret(m[1]))
		}
		parts = append(parts, Part{Secret: m[1]})
		s = s[len(m[0]):]
	}
	return parts, nil
}
