//go:build linux

package motokano_test

// These tests run the real ningen binary in real sessions. The session's
// child is this test binary again in a helper mode (MOTOKANO_HELPER), so
// that the MCP client, or whatever connects to the socket, is a holder,
// as it is in real use. Build the binary with `go build` (TestMain does) or
// name a built one in NINGEN_BIN to run as any user.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/ningen-shikkaku/ningen/motokano"
)

var (
	ningenBin string // the binary under test
	selfBin   string // this test binary, the session's child
	workDir   string // temp files: tools files, secrets
)

// waitLong bounds every wait for something that must happen.
const waitLong = 60 * time.Second

func TestMain(m *testing.M) {
	if mode := os.Getenv("MOTOKANO_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "motokano-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "motokano test:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755) // the other-UID test runs a process as nobody
	workDir = dir
	selfBin, _ = os.Executable()
	ningenBin = os.Getenv("NINGEN_BIN")
	if ningenBin == "" {
		ningenBin = os.Getenv("NINGEN_E2E_BIN")
	}
	if ningenBin == "" {
		ningenBin = filepath.Join(dir, "ningen")
		build := exec.Command("go", "build", "-o", ningenBin, "..")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "motokano test: go build failed (set NINGEN_BIN to a built ningen to run without the toolchain):", err)
			return 1
		}
	}
	return m.Run()
}

// fakeSecret is random, so a match in any output can only be a leak.
func fakeSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "fake-" + hex.EncodeToString(b)
}

// toolsFile is every tool the tests use. MARKER names the processes of
// the hanging tool.
const toolsFile = `
[tools.header]
kind = "static"
description = "Authorization header for the staging API"
value = "Bearer {{secret:API_TOKEN}}"

[tools.odd]
kind = "static"
description = "A value with every byte JSON must escape"
value = "<{{secret:ODD}}>"

[tools.whoami]
kind = "exec"
description = "Ask the staging API who we are"
command = ["sh", "-c", "printf 'token=%s' \"$API_TOKEN\""]
secrets = ["API_TOKEN"]
deliver = "env"
timeout = "5s"

[tools.fdcat]
kind = "exec"
description = "Reads its secret from the pipe it is handed"
command = ["sh", "-c", "printf 'read:'; cat \"$1\"; printf ':fd=%s' \"$NINGEN_FD_API_TOKEN\"", "sh", "{{path:API_TOKEN}}"]
secrets = ["API_TOKEN"]

[tools.split]
kind = "exec"
description = "Prints the secret in two writes, a pause apart"
command = ["sh", "-c", 'head=${API_TOKEN%??????}; printf "a%s" "$head"; sleep 0.2; printf "%sz" "${API_TOKEN#"$head"}"']
secrets = ["API_TOKEN"]
deliver = "env"

[tools.hang]
kind = "exec"
description = "Never ends, and leaves children"
command = ["sh", "-c", "sh -c 'sleep 300; :' MARKER & sh -c 'sleep 300; :' MARKER; :", "MARKER"]
timeout = "500ms"

[tools.fail]
kind = "exec"
description = "Prints the secret and fails"
command = ["sh", "-c", "printf '%s\n' \"$API_TOKEN\"; exit 3"]
secrets = ["API_TOKEN"]
deliver = "env"

[tools.big]
kind = "exec"
description = "Prints more than it may"
command = ["sh", "-c", "i=0; while [ $i -lt 100 ]; do printf '0123456789'; i=$((i+1)); done"]
max_output = 100
`

// session is one `ningen run --tools` with the helper as its child.
type session struct {
	t       testing.TB
	cmd     *exec.Cmd
	stdout  *bufio.Reader
	stdin   io.WriteCloser
	stderr  bytes.Buffer
	secrets map[string]string
	marker  string
}

func startSession(t testing.TB, helperMode string, env []string, child ...string) *session {
	t.Helper()
	s := &session{t: t, marker: "motokano-marker-" + fakeSecret(t)[5:]}
	s.secrets = map[string]string{
		"API_TOKEN": fakeSecret(t),
		"ODD":       "q\"b\\s/t\tn\x01e\u00e9\u2028" + fakeSecret(t) + "\x7f",
	}
	dir := t.TempDir()
	tools := filepath.Join(dir, "tools.toml")
	if err := os.WriteFile(tools, []byte(strings.ReplaceAll(toolsFile, "MARKER", s.marker)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--tools", tools, "--grace", "20s"}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.secrets {
			if !yield(k) {
				return
			}
		}
	}) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(s.secrets[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-s", name+"=file:"+path, "--raw", name)
	}
	if len(child) == 0 {
		child = []string{selfBin}
	}
	args = append(append(args, "--"), child...)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	s.cmd = exec.CommandContext(ctx, ningenBin, args...)
	s.cmd.Env = append(os.Environ(), "MOTOKANO_HELPER="+helperMode, "NINGEN_BIN="+ningenBin, "MOTOKANO_MARKER="+s.marker)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdout = bufio.NewReader(out)
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	return s
}

// report reads the helper's one-line JSON report.
func (s *session) report(v any) {
	s.t.Helper()
	line, err := s.stdout.ReadBytes('\n')
	if err != nil {
		s.t.Fatalf("no report from the session's child (%v); ningen's stderr:\n%s", err, s.stderr.String())
	}
	if err := json.Unmarshal(line, v); err != nil {
		s.t.Fatalf("report %q: %v", line, err)
	}
}

// wait ends the session (closing the helper's stdin) and returns ningen's
// exit code. Its stderr must never hold a secret.
func (s *session) wait() int {
	s.t.Helper()
	_ = s.stdin.Close()
	_, _ = io.Copy(io.Discard, s.stdout)
	err := s.cmd.Wait()
	for name, v := range s.secrets {
		if strings.Contains(s.stderr.String(), v) {
			s.t.Errorf("ningen's stderr holds secret %s", name)
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return 0
}

// callReport is what a helper saw of one call.
type callReport struct {
	Text    string `json:"text"`
	IsError bool   `json:"isError"`
	Left    int    `json:"left"` // processes with the marker still alive after the call
}

type mcpReport struct {
	Socket      string                `json:"socket"`
	Tools       []toolReport          `json:"tools"`
	Calls       map[string]callReport `json:"calls"`
	Panic       json.RawMessage       `json:"panic"`
	AfterSocket string                `json:"afterSocket"` // the socket's error for a call after the panic
	AfterMCP    string                `json:"afterMCP"`    // what the MCP client saw
}

type toolReport struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        string `json:"type"`
}

var allCalls = "header,odd,whoami,fdcat,split,hang,fail,big"

func TestMCPGoSDK(t *testing.T) {
	s := startSession(t, "mcp", []string{"MOTOKANO_CALLS=" + allCalls})
	var r mcpReport
	s.report(&r)
	code := s.wait()
	checkTools(t, r.Tools)
	checkCalls(t, s, r.Calls)
	if !strings.Contains(r.AfterSocket, motokano.ErrEnding.Error()) {
		t.Errorf("socket call after the panic: %q, want the ending error", r.AfterSocket)
	}
	if r.AfterMCP == "" {
		t.Error("an MCP call after the panic succeeded")
	}
	for _, want := range []string{"event=tools-panic", "event=kill trigger=panic", "event=wipe trigger=panic"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, s.stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Dir(r.Socket)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s is still there after the session (%v)", filepath.Dir(r.Socket), err)
	}
	t.Logf("ningen exited %d", code)
}

func checkTools(t *testing.T, tools []toolReport) {
	t.Helper()
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name)
		if tool.Type != "object" {
			t.Errorf("tool %s input schema type %q, want object", tool.Name, tool.Type)
		}
		if tool.Name == "header" && tool.Description != "Authorization header for the staging API" {
			t.Errorf("header description %q", tool.Description)
		}
	}
	sort.Strings(names) // MCP servers list tools sorted by name
	want := strings.Split(allCalls, ",")
	sort.Strings(want)
	if got := strings.Join(names, ","); got != strings.Join(want, ",") {
		t.Errorf("tools %s, want %s", got, want)
	}
}

func checkCalls(t *testing.T, s *session, calls map[string]callReport) {
	t.Helper()
	tok := s.secrets["API_TOKEN"]
	for name, want := range map[string]callReport{
		"header": {Text: "Bearer " + tok},
		"odd":    {Text: "<" + s.secrets["ODD"] + ">"},
		"whoami": {Text: "token=***"},
		"fdcat":  {Text: "read:***:fd=3"},
		"split":  {Text: "a***z"},
	} {
		if got := calls[name]; got.Text != want.Text || got.IsError {
			t.Errorf("%s: got %q (isError %v), want %q", name, got.Text, got.IsError, want.Text)
		}
	}
	if h := calls["hang"]; !h.IsError || !strings.Contains(h.Text, "killed at its 500ms timeout") || h.Left != 0 {
		t.Errorf("hang: %+v, want an error naming the timeout and no process left", h)
	}
	if f := calls["fail"]; !f.IsError || f.Text != "***\n[ningen: fail exited with status 3]" {
		t.Errorf("fail: %+v", f)
	}
	if b := calls["big"]; b.IsError || b.Text != strings.Repeat("0123456789", 10)+"\n[ningen: output cut at 100 bytes]" {
		t.Errorf("big: %+v", b)
	}
	for name, c := range calls {
		if strings.Contains(c.Text, tok) && name != "header" {
			t.Errorf("%s: the secret is in its output: %q", name, c.Text)
		}
	}
}

func TestMCPNodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the TypeScript SDK client cannot run")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed: the TypeScript SDK cannot be installed")
	}
	dir := nodeClient(t)
	s := startSession(t, "", []string{"MOTOKANO_CALLS=header,odd,whoami,split"}, node, filepath.Join(dir, "client.mjs"))
	var r struct {
		Tools      []toolReport          `json:"tools"`
		Calls      map[string]callReport `json:"calls"`
		Panic      map[string]any        `json:"panic"`
		AfterPanic map[string]any        `json:"afterPanic"`
	}
	s.report(&r)
	s.wait()
	checkTools(t, r.Tools)
	tok := s.secrets["API_TOKEN"]
	for name, want := range map[string]string{"header": "Bearer " + tok, "odd": "<" + s.secrets["ODD"] + ">", "whoami": "token=***", "split": "a***z"} {
		if got := r.Calls[name]; got.Text != want || got.IsError {
			t.Errorf("%s: got %+v, want %q", name, got, want)
		}
	}
	if _, ok := r.Panic["result"]; !ok {
		t.Errorf("panic reply %v", r.Panic)
	}
	if r.AfterPanic["isError"] != true {
		t.Errorf("a call after the panic: %v, want an error", r.AfterPanic)
	}
	if !strings.Contains(s.stderr.String(), "event=kill trigger=panic") {
		t.Errorf("no kill step for the panic:\n%s", s.stderr.String())
	}
}

// nodeClient installs the SDK beside client.mjs from its lock file: in
// place when testdata is writable (node_modules is ignored by git), else in
// a temp copy.
func nodeClient(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../testdata/motokano/node")
	if err != nil {
		t.Fatal(err)
	}
	dir := src
	if _, err := os.Stat(filepath.Join(src, "node_modules", "@modelcontextprotocol", "sdk")); err == nil {
		return src
	}
	if unix := syscall.Access(src, 2); unix != nil { // W_OK
		dir = t.TempDir()
		for _, f := range []string{"package.json", "package-lock.json", "client.mjs"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	npm := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	npm.Dir = dir
	npm.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(os.TempDir(), "motokano-npm-cache"))
	if out, err := npm.CombinedOutput(); err != nil {
		t.Skipf("npm ci failed, so the TypeScript SDK is not there: %v\n%s", err, out)
	}
	return dir
}

func TestSocketRefusesProcessOutsideTheSession(t *testing.T) {
	s := startSession(t, "wait", nil)
	var r struct {
		Socket string `json:"socket"`
	}
	s.report(&r)
	c, err := motokano.Dial(r.Socket)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background())
	if !motokano.IsRefused(err) {
		t.Errorf("a process outside the session was not refused: %v", err)
	}
	_ = c.Close()
	s.wait()
	want := fmt.Sprintf("event=tools-refused pid=%d uid=%d why=\"not a holder of this session\"", os.Getpid(), os.Getuid())
	if !strings.Contains(s.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, s.stderr.String())
	}
}

func TestSocketRefusesAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: a process of another user must be started inside the session")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed")
	}
	// nobody keeps CAP_DAC_OVERRIDE only to get through the 0700 directory
	// to the socket: the refusal seen is SO_PEERCRED's, not the directory's.
	as := []string{setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps=+dac_override", "--ambient-caps=+dac_override", selfBin}
	s := startSession(t, "spawn", []string{"MOTOKANO_SPAWN=" + strings.Join(as, "\x1f")})
	var r dialReport
	s.report(&r)
	s.wait()
	if r.OK || !strings.Contains(r.Err, "refused: another user") {
		t.Errorf("a holder of another user: %+v, want refused as another user", r)
	}
	if !strings.Contains(s.stderr.String(), "event=tools-refused") || !strings.Contains(s.stderr.String(), "why=\"another user\"") {
		t.Errorf("no refusal audited:\n%s", s.stderr.String())
	}
}

func TestSocketServesHolderTwoForksDeep(t *testing.T) {
	s := startSession(t, "spawn", []string{"MOTOKANO_SPAWN=" + selfBin, "MOTOKANO_SPAWN_MODE=spawn", "MOTOKANO_SPAWN2=" + selfBin})
	var r dialReport
	s.report(&r)
	s.wait()
	if !r.OK || r.Depth < 3 {
		t.Errorf("a holder two forks below the child: %+v, want served", r)
	}
}

func TestBadToolsFileExits2(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[tools.a]\nkind = \"static\"\nvalue = \"{{secret:NOPE}}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ningenBin, "run", "--tools", bad, "-s", "A=env:HOME", "--", "true").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2: %s", err, out)
	}
	if want := bad + ":3: tools.a.value: no secret NOPE"; !strings.Contains(string(out), want) {
		t.Errorf("output %q lacks %q", out, want)
	}
}

func TestMCPOutsideASessionExits2(t *testing.T) {
	cmd := exec.Command(ningenBin, "mcp")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, motokano.EnvVar+"=") })
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not inside a ningen session") {
		t.Errorf("ningen mcp outside a session: %v, %q; want exit 2 saying so", err, out)
	}
}

// BenchmarkStaticCall measures static tool calls in a real session, over
// the socket and through `ningen mcp` with the go-sdk client, b.N calls
// each, and reports p50 and p99: go test -bench Static -benchtime 1000x.
func BenchmarkStaticCall(b *testing.B) {
	s := startSession(b, "bench", []string{fmt.Sprintf("MOTOKANO_N=%d", b.N)})
	var r benchReport
	s.report(&r)
	s.wait()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(percentile(r.Socket, 0.50)), "socket-p50-µs")
	b.ReportMetric(us(percentile(r.Socket, 0.99)), "socket-p99-µs")
	b.ReportMetric(us(percentile(r.MCP, 0.50)), "mcp-p50-µs")
	b.ReportMetric(us(percentile(r.MCP, 0.99)), "mcp-p99-µs")
	b.ReportMetric(0, "ns/op") // the session's start-up is not per call
}

// --- the helper, as the session's child ---

type dialReport struct {
	OK    bool   `json:"ok"`
	Err   string `json:"err"`
	Depth int    `json:"depth"`
}

func helper(mode string) int {
	var out any
	var err error
	switch mode {
	case "mcp":
		out, err = helperMCP()
	case "wait":
		out = map[string]string{"socket": os.Getenv(motokano.EnvVar)}
	case "spawn":
		out, err = helperSpawn()
	case "dial":
		out = helperDial()
	case "bench":
		out, err = helperBench()
	default:
		err = fmt.Errorf("no helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	b, _ := json.Marshal(out)
	fmt.Printf("%s\n", b)
	if mode == "wait" {
		_, _ = io.Copy(io.Discard, os.Stdin) // until the test is done
	}
	return 0
}

func mcpClient(ctx context.Context) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "motokano-test", Version: "1"}, nil)
	return client.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(os.Getenv("NINGEN_BIN"), "mcp")}, nil)
}

func helperMCP() (*mcpReport, error) {
	signal.Ignore(syscall.SIGTERM) // stay through the grace period after the panic
	ctx := context.Background()
	cs, err := mcpClient(ctx)
	if err != nil {
		return nil, err
	}
	r := &mcpReport{Socket: os.Getenv(motokano.EnvVar), Calls: map[string]callReport{}}
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, tool := range list.Tools {
		schema, _ := json.Marshal(tool.InputSchema)
		var s struct{ Type string }
		_ = json.Unmarshal(schema, &s)
		r.Tools = append(r.Tools, toolReport{Name: tool.Name, Description: tool.Description, Type: s.Type})
	}
	for _, name := range strings.Split(os.Getenv("MOTOKANO_CALLS"), ",") {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name})
		if err != nil {
			return nil, fmt.Errorf("call %s: %w", name, err)
		}
		c := callReport{IsError: res.IsError, Left: markerProcesses(os.Getenv("MOTOKANO_MARKER"))}
		for _, ct := range res.Content {
			if tc, ok := ct.(*mcp.TextContent); ok {
				c.Text += tc.Text
			}
		}
		r.Calls[name] = c
	}
	sock, err := motokano.Dial(r.Socket)
	if err != nil {
		return nil, err
	}
	if err := sock.Panic(ctx); err != nil {
		return nil, fmt.Errorf("panic: %w", err)
	}
	r.Panic = json.RawMessage(`"ok"`)
	if _, err := sock.Call(ctx, "header"); err != nil {
		r.AfterSocket = err.Error()
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "header"})
	switch {
	case err != nil:
		r.AfterMCP = err.Error()
	case res.IsError:
		r.AfterMCP = "tool error"
	}
	return r, nil
}

// markerProcesses counts live processes whose argv holds marker.
func markerProcesses(marker string) int {
	if marker == "" {
		return 0
	}
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(marker)) && d.Name() != fmt.Sprint(os.Getpid()) {
			n++
		}
	}
	return n
}

// helperSpawn runs MOTOKANO_SPAWN (argv split on \x1f) as a child in mode
// MOTOKANO_SPAWN_MODE (default dial) and passes its report on.
func helperSpawn() (any, error) {
	argv := strings.Split(os.Getenv("MOTOKANO_SPAWN"), "\x1f")
	mode := os.Getenv("MOTOKANO_SPAWN_MODE")
	if mode == "" {
		mode = "dial"
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "MOTOKANO_HELPER="+mode, "MOTOKANO_SPAWN_MODE=", "MOTOKANO_SPAWN="+os.Getenv("MOTOKANO_SPAWN2"),
		fmt.Sprintf("MOTOKANO_DEPTH=%d", depth()+1))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("spawn %v: %w", argv, err)
	}
	var r dialReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("spawned report %q: %w", out, err)
	}
	return r, nil
}

func depth() int {
	var d int
	_, _ = fmt.Sscan(os.Getenv("MOTOKANO_DEPTH"), &d)
	if d == 0 {
		d = 1
	}
	return d
}

func helperDial() dialReport {
	r := dialReport{Depth: depth()}
	c, err := motokano.Dial(os.Getenv(motokano.EnvVar))
	if err == nil {
		_, err = c.List(context.Background())
		_ = c.Close()
	}
	r.OK = err == nil
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

type benchReport struct {
	Socket []time.Duration `json:"socket"`
	MCP    []time.Duration `json:"mcp"`
}

func helperBench() (*benchReport, error) {
	var n int
	_, _ = fmt.Sscan(os.Getenv("MOTOKANO_N"), &n)
	ctx := context.Background()
	r := &benchReport{}
	sock, err := motokano.Dial(os.Getenv(motokano.EnvVar))
	if err != nil {
		return nil, err
	}
	for range n {
		start := time.Now()
		if _, err := sock.Call(ctx, "header"); err != nil {
			return nil, err
		}
		r.Socket = append(r.Socket, time.Since(start))
	}
	cs, err := mcpClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	for range n {
		start := time.Now()
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "header"}); err != nil {
			return nil, err
		}
		r.MCP = append(r.MCP, time.Since(start))
	}
	return r, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
