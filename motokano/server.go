package motokano

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ningen-shikkaku/ningen/vault"
)

// EnvVar names the socket in the child's environment.
const EnvVar = "NINGEN_TOOLS"

// ErrUnsupported says that this platform has no tool server.
var ErrUnsupported = errors.New("the tool server needs Linux (SO_PEERCRED, SOCK_SEQPACKET, pidfds)")

// Bounds of the server.
const (
	maxConns     = 16               // connections served at once
	writeTimeout = 10 * time.Second // a client that reads nothing for this long is dropped
	closeWait    = 2 * time.Second  // Close waits this long for calls in flight, then goes on to the wipe
)

// Options connects the server to its session.
type Options struct {
	Vault  *vault.Vault
	Env    []string    // the environment exec tools start from: the child's, before deliveries
	Runner []string    // argv that starts `ningen toolrunner`
	Ending func() bool // reports that the kill sequence has started
	Panic  func()      // fires the kill sequence
	Audit  func(Event) // one line per refused connection and per panic; never a secret
}

// Event is one audit event of the server.
type Event struct {
	Name string // "tools-refused" or "tools-panic"
	PID  int    // the peer, from SO_PEERCRED (0 when unknown)
	UID  int    // -1 when unknown
	Why  string
}

// Holders reports whether a pid is one of the session's holders now; the
// launcher's Session is one.
type Holders interface{ IsHolder(pid int) bool }

// Environ returns env with NINGEN_TOOLS naming this server's socket, in
// place of any inherited one.
func (s *Server) Environ(env []string) []string {
	if s == nil {
		return env
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvVar+"=") {
			out = append(out, kv)
		}
	}
	return append(out, EnvVar+"="+s.path)
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// socketDir makes the fresh 0700 directory the socket lives in, under
// $XDG_RUNTIME_DIR when it is usable, otherwise the temp directory.
func socketDir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if fi, err := os.Stat(base); base == "" || err != nil || !fi.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "ningen-tools-")
	if err != nil {
		return "", fmt.Errorf("tool socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		_ = os.Remove(dir)
		return "", fmt.Errorf("tool socket directory: %w", err)
	}
	// sockaddr_un holds 108 bytes with its terminating zero.
	if p := filepath.Join(dir, "tools.sock"); len(p) > 107 {
		_ = os.Remove(dir)
		return "", fmt.Errorf("tool socket path %s is longer than the 107 bytes a Unix socket may have: set XDG_RUNTIME_DIR or TMPDIR to a shorter directory", p)
	}
	return dir, nil
}

// toolList is the result of tools/list.
func toolList(cfg *Config) map[string]any {
	list := make([]ToolInfo, len(cfg.Tools))
	for i, t := range cfg.Tools {
		list[i] = ToolInfo{Name: t.Name, Description: t.Description, InputSchema: inputSchema()}
	}
	return map[string]any{"tools": list}
}

// trailer says how an exec tool ended, when that is worth saying.
func trailer(r runReply, t *Tool, cut bool) (text string, isError bool) {
	switch {
	case r.TimedOut:
		text, isError = fmt.Sprintf("[ningen: %s was killed at its %s timeout]", t.Name, t.Timeout), true
	case r.Signal != 0:
		text, isError = fmt.Sprintf("[ningen: %s was killed by signal %d]", t.Name, r.Signal), true
	case r.Exit != 0:
		text, isError = fmt.Sprintf("[ningen: %s exited with status %d]", t.Name, r.Exit), true
	}
	if cut {
		if text != "" {
			text += "\n"
		}
		text += fmt.Sprintf("[ningen: output cut at %d bytes]", t.MaxOutput)
	}
	return text, isError
}

// runRequest asks the runner to start one tool. The message carries one
// descriptor for the tool's stdout, then one per secret, in order.
type runRequest struct {
	ID      uint64        `json:"id"`
	Op      string        `json:"op,omitempty"` // "" runs a tool; opCleanup removes the socket
	Argv    []string      `json:"argv"`
	Secrets []runSecret   `json:"secrets"`
	Timeout time.Duration `json:"timeout"`
}

// opCleanup asks the runner to remove the tool socket and its directory:
// ningen cannot, under its seccomp policy, which lets it remove empty
// directories but no file. cleanupID is its request id.
const (
	opCleanup = "cleanup"
	cleanupID = 0
)

// runSecret names one secret's pipe: read into the environment (Env) or
// handed to the tool as NINGEN_FD_<Name>. It never carries the value.
type runSecret struct {
	Name string `json:"name"`
	Env  bool   `json:"env"`
}

// runReply is how a tool ended.
type runReply struct {
	ID       uint64 `json:"id"`
	Exit     int    `json:"exit"`
	Signal   int    `json:"signal"`
	TimedOut bool   `json:"timed_out"`
	Err      string `json:"error,omitempty"` // it could not start
}
