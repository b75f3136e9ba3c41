//go:build linux

package motokano

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ningen-shikkaku/ningen/vault"
	"golang.org/x/sys/unix"
)

// Server serves one session's tools on its socket.
//
// Once the session runs, ningen lives under a seccomp allowlist, so the
// server does only what it allows: it accepts with accept4 on the raw
// descriptor (net's Accept would also call getsockname), reads the peer
// with getsockopt(SO_PEERCRED), and otherwise reads, writes and closes
// descriptors, makes pipes for exec calls and sends them to the runner
// with sendmsg. Everything else (the socket, the directory, the runner) is
// made by Start, before the child.
type Server struct {
	o       Options
	tools   map[string]*served
	list    []byte // tools/list result
	mask    []*vault.Secret
	dir     string
	path    string
	ln      *os.File // the listening socket, non-blocking
	run     *runner
	holders Holders
	uid     int // ningen's, read at Start: getuid need not be in the seccomp policy
	nextID  atomic.Uint64

	mu     sync.Mutex
	open   map[*os.File]bool // connections and exec pipes, closed by Close
	closed bool
	wg     sync.WaitGroup
	active atomic.Int32
}

type served struct {
	*Tool
	value   *vault.Secret   // static: the assembled value, in the vault
	secrets []*vault.Secret // exec: what it receives, in order
}

// Start assembles every static value in the vault, starts the tool runner
// and listens on a fresh socket. Call it after every secret is loaded and
// before the child starts; then Serve once the session exists.
func Start(cfg *Config, secrets []*vault.Secret, o Options) (*Server, error) {
	s := &Server{o: o, tools: map[string]*served{}, mask: secrets, open: map[*os.File]bool{}, uid: os.Getuid()}
	byName := map[string]*vault.Secret{}
	for _, sec := range secrets {
		byName[sec.Name] = sec
	}
	for _, t := range cfg.Tools {
		st, err := s.prepare(t, byName)
		if err != nil {
			return nil, err
		}
		s.tools[t.Name] = st
	}
	list, err := json.Marshal(toolList(cfg))
	if err != nil {
		return nil, err
	}
	s.list = list
	if s.dir, err = socketDir(); err != nil {
		return nil, err
	}
	s.path = filepath.Join(s.dir, "tools.sock")
	if s.ln, err = listen(s.path); err != nil {
		_ = os.Remove(s.dir)
		return nil, fmt.Errorf("tool socket: %w", err)
	}
	// The runner is started even without exec tools: it is also what
	// removes the socket file at the end.
	if s.run, err = startRunner(append(slices.Clip(o.Runner), "--socket", s.path), o.Env); err != nil {
		_ = s.ln.Close()
		_ = os.Remove(s.path)
		_ = os.Remove(s.dir)
		return nil, err
	}
	return s, nil
}

// listen makes the listening socket by hand rather than with net.Listen:
// a net.Listener's raw connection cannot wait to accept, and its Accept
// calls getsockname, which the seccomp policy need not allow.
func listen(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		_ = unix.Close(fd)
		_ = os.Remove(path)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func (s *Server) prepare(t *Tool, byName map[string]*vault.Secret) (*served, error) {
	st := &served{Tool: t}
	if t.Kind == Exec {
		for _, n := range t.Secrets {
			if byName[n] == nil {
				return nil, fmt.Errorf("tool %s: no secret %s in the vault", t.Name, n)
			}
			st.secrets = append(st.secrets, byName[n])
		}
		return st, nil
	}
	parts := make([]vault.Part, len(t.Value))
	for i, p := range t.Value {
		parts[i] = vault.Part{Text: p.Text, Secret: byName[p.Secret]}
		if p.Secret != "" && parts[i].Secret == nil {
			return nil, fmt.Errorf("tool %s: no secret %s in the vault", t.Name, p.Secret)
		}
	}
	val, err := s.o.Vault.Join("tools."+t.Name, parts)
	if err != nil {
		return nil, fmt.Errorf("tool %s: assemble its value: %w", t.Name, err)
	}
	valid := false
	if err := s.o.Vault.View(val, func(b []byte) { valid = utf8.Valid(b) }); err != nil {
		return nil, err
	}
	if !valid {
		return nil, fmt.Errorf("tool %s: its value is not valid UTF-8 text, which a tool result must be", t.Name)
	}
	st.value = val
	return st, nil
}

// Serve starts accepting connections; h decides who is a holder.
func (s *Server) Serve(h Holders) {
	if s == nil {
		return
	}
	s.holders = h
	s.wg.Add(1)
	go s.acceptLoop()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	rc, err := s.ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var nfd int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			return aerr != unix.EAGAIN
		})
		if err != nil || s.isClosed() {
			if aerr == nil && nfd > 0 {
				_ = unix.Close(nfd)
			}
			return
		}
		switch {
		case aerr == nil:
			s.wg.Add(1)
			go s.admit(nfd)
		case aerr == unix.EMFILE || aerr == unix.ENFILE || aerr == unix.ENOBUFS || aerr == unix.ENOMEM:
			time.Sleep(50 * time.Millisecond) // out of descriptors: let some close
		}
	}
}

// admit serves fd if its peer has ningen's UID and is a holder right now.
func (s *Server) admit(fd int) {
	defer s.wg.Done()
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	switch {
	case err != nil:
		s.refuse(fd, Event{UID: -1, Why: "no peer credentials"})
		return
	case int(cred.Uid) != s.uid:
		s.refuse(fd, Event{PID: int(cred.Pid), UID: int(cred.Uid), Why: "another user"})
		return
	case !s.holders.IsHolder(int(cred.Pid)):
		s.refuse(fd, Event{PID: int(cred.Pid), UID: int(cred.Uid), Why: "not a holder of this session"})
		return
	}
	f := os.NewFile(uintptr(fd), "tools-conn")
	if !s.track(f) {
		return
	}
	defer s.untrack(f)
	if s.active.Add(1) > maxConns {
		s.active.Add(-1)
		_, _ = f.Write(errorLine(nil, &RPCError{codeBusy, fmt.Sprintf("busy: %d connections are open", maxConns)}))
		return
	}
	defer s.active.Add(-1)
	s.serveConn(f)
}

// refuse tells the peer why, without waiting for it, closes and audits.
func (s *Server) refuse(fd int, e Event) {
	_, _ = unix.Write(fd, errorLine(nil, &RPCError{codeRefused, "refused: " + e.Why}))
	_ = unix.Close(fd)
	e.Name = "tools-refused"
	s.audit(e)
}

func (s *Server) audit(e Event) {
	if s.o.Audit != nil {
		s.o.Audit(e)
	}
}

func (s *Server) serveConn(f *os.File) {
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			_ = s.reply(f, errorLine(nil, &RPCError{codeInvalidRequest, err.Error()}))
			return
		}
		if err != nil {
			return
		}
		if len(line) == 0 {
			continue
		}
		if err := s.dispatch(f, line); err != nil {
			return
		}
	}
}

// dispatch answers one request. An error means the connection is broken.
func (s *Server) dispatch(f *os.File, line []byte) error {
	req, id, rerr := parseRequest(line)
	if rerr != nil {
		return s.reply(f, errorLine(id, rerr))
	}
	answer := func(b []byte) error {
		if req.notification() {
			return nil
		}
		return s.reply(f, b)
	}
	if s.ending() {
		return answer(errorLine(id, &RPCError{codeEnding, ErrEnding.Error()}))
	}
	switch req.Method {
	case methodList:
		return answer(append(append(envelope(id), s.list...), "}\n"...))
	case methodPanic:
		err := answer(resultLine(id, struct{}{}))
		s.audit(Event{Name: "tools-panic", PID: s.peerPID(f), UID: s.uid, Why: "session/panic"})
		s.o.Panic()
		return err
	case methodCall:
		var p callParams
		if len(req.Params) > 0 {
			if err := json.Unmarshal(req.Params, &p); err != nil {
				return answer(errorLine(id, &RPCError{codeInvalidParams, "invalid params: want {\"name\": TOOL}"}))
			}
		}
		t := s.tools[p.Name]
		if t == nil {
			return answer(errorLine(id, &RPCError{codeInvalidParams, fmt.Sprintf("no tool %q", p.Name)}))
		}
		if req.notification() {
			return nil
		}
		if t.Kind == Static {
			return s.writeStatic(f, id, t.value)
		}
		res, err := s.callExec(t)
		if err != nil {
			var re *RPCError
			if !errors.As(err, &re) {
				re = &RPCError{codeToolFailed, err.Error()}
			}
			return s.reply(f, errorLine(id, re))
		}
		return s.reply(f, resultLine(id, res))
	}
	return answer(errorLine(id, &RPCError{codeNoMethod, fmt.Sprintf("no method %q: want tools/list, tools/call or session/panic", req.Method)}))
}

func (s *Server) ending() bool { return s.isClosed() || (s.o.Ending != nil && s.o.Ending()) }

func (s *Server) peerPID(f *os.File) int {
	pid := 0
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			if c, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
				pid = int(c.Pid)
			}
		})
	}
	return pid
}

func (s *Server) reply(f *os.File, b []byte) error {
	_ = f.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := f.Write(b)
	return err
}

// writeStatic writes a static tool's reply with its value taken straight
// from the vault: the envelope, the value as a JSON string body, the end.
// The value is never copied to the Go heap, where it could not be wiped:
// runs that need no escape go from vault memory to the socket with write(2)
// inside Vault.View, and an escaped byte goes from the escaper's six-byte
// array, zeroed afterwards. The writes are non-blocking, so the vault is
// never held while the client is slow; the poller waits between them.
func (s *Server) writeStatic(f *os.File, id json.RawMessage, val *vault.Secret) error {
	if err := s.reply(f, append(envelope(id), textHead...)); err != nil {
		return err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var e escaper
	defer e.wipe()
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		again := false
		verr := s.o.Vault.View(val, func(b []byte) {
			for werr == nil {
				chunk := e.next(b)
				if chunk == nil {
					return
				}
				n, err := unix.Write(int(fd), chunk)
				switch {
				case err == unix.EAGAIN:
					again = true
					return
				case err == unix.EINTR:
				case err != nil:
					werr = err
				default:
					e.wrote(n)
				}
			}
		})
		if verr != nil {
			werr = verr
		}
		return !again || werr != nil
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(textTail))
	return err
}

func (s *Server) track(f *os.File) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = f.Close()
		return false
	}
	s.open[f] = true
	return true
}

func (s *Server) untrack(f *os.File) {
	s.mu.Lock()
	delete(s.open, f)
	s.mu.Unlock()
	_ = f.Close()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops serving: the listener, every connection and exec pipe, the
// runner (which removes the socket file); then it removes the directory. It
// waits up to closeWait for calls in flight, and never longer, since the
// wipe comes next. Call it before the vault is wiped.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	open := make([]*os.File, 0, len(s.open))
	for f := range s.open {
		open = append(open, f)
	}
	s.mu.Unlock()
	err := s.ln.Close()
	for _, f := range open {
		_ = f.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
	// The socket file goes by the runner's hand: on SIGTERM in the kill
	// step, when asked here if it is still alive, or when ningen's end of
	// their socketpair closes. Only a runner killed without warning
	// (--grace 0) leaves it, and then the directory stays too.
	s.run.cleanup()
	s.run.close()
	if rerr := unix.Rmdir(s.dir); rerr != nil && !errors.Is(rerr, unix.ENOENT) {
		s.audit(Event{Name: "tools-left", UID: s.uid, Why: "the tool runner was killed before it removed " + s.path})
		if err == nil {
			err = rerr
		}
	}
	return err
}
