//go:build linux

package motokano

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// drainAfterExit is how long stdout is still read once the runner says the
// tool and its group are gone: only what is already in the pipe is left,
// unless a process that left the group still holds it open.
const drainAfterExit = 200 * time.Millisecond

// errRunnerGone says the tool runner has exited (or was killed).
var errRunnerGone = errors.New("the tool runner is gone")

// runner is ningen's end of `ningen toolrunner`.
type runner struct {
	conn *net.UnixConn
	pid  int

	mu      sync.Mutex
	pending map[uint64]chan runReply
	dead    bool
	sendMu  sync.Mutex
}

// startRunner starts the runner connected by a socketpair: a fresh exec of
// ningen that holds no secret until a call hands it one. It is a child of
// ningen, so the kill sequence kills it with the holders. It has no
// PDEATHSIG: when ningen dies the socketpair reaches end of file, and the
// runner removes the tool socket, kills its tools and exits.
func startRunner(argv, env []string) (*runner, error) {
	if len(argv) == 0 {
		return nil, errors.New("exec tools need the tool runner, and ningen cannot find its own executable")
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tool runner socket: %w", err)
	}
	mine := os.NewFile(uintptr(pair[0]), "toolrunner")
	c, err := net.FileConn(mine)
	_ = mine.Close()
	if err != nil {
		_ = unix.Close(pair[1])
		return nil, fmt.Errorf("tool runner socket: %w", err)
	}
	r := &runner{conn: c.(*net.UnixConn), pending: map[uint64]chan runReply{}}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		_ = unix.Close(pair[1])
		_ = c.Close()
		return nil, err
	}
	defer devnull.Close()
	files := []uintptr{devnull.Fd(), devnull.Fd(), os.Stderr.Fd(), uintptr(pair[1])}
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: &syscall.SysProcAttr{Setpgid: true}}
	r.pid, err = syscall.ForkExec(argv[0], argv, attr)
	_ = unix.Close(pair[1])
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("start the tool runner %s: %w", argv[0], err)
	}
	if err := r.awaitReady(); err != nil {
		_ = syscall.Kill(r.pid, syscall.SIGKILL)
		_ = c.Close()
		return nil, err
	}
	go r.readReplies()
	return r, nil
}

// runnerReady is the runner's first message: its SIGTERM handler is in
// place. Until then a kill step would end it before it removed the socket.
const runnerReady = `{"ready":true}`

func (r *runner) awaitReady() error {
	_ = r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = r.conn.SetReadDeadline(time.Time{}) }()
	buf := make([]byte, 64)
	n, err := r.conn.Read(buf)
	if err != nil {
		return fmt.Errorf("the tool runner did not come up: %w", err)
	}
	if string(buf[:n]) != runnerReady {
		return fmt.Errorf("the tool runner said %q, not that it is ready", buf[:n])
	}
	return nil
}

func (r *runner) readReplies() {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.conn.Read(buf)
		if err != nil || n == 0 {
			r.fail()
			return
		}
		var rep runReply
		if json.Unmarshal(buf[:n], &rep) != nil {
			continue
		}
		r.mu.Lock()
		ch := r.pending[rep.ID]
		delete(r.pending, rep.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
}

// fail ends every call waiting for a reply.
func (r *runner) fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead = true
	for id, ch := range r.pending {
		close(ch)
		delete(r.pending, id)
	}
}

// start sends one request with its descriptors; the channel gets the reply,
// or is closed if the runner goes away first.
func (r *runner) start(req runRequest, fds []int) (<-chan runReply, error) {
	msg, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ch := make(chan runReply, 1)
	r.mu.Lock()
	if r.dead {
		r.mu.Unlock()
		return nil, errRunnerGone
	}
	r.pending[req.ID] = ch
	r.mu.Unlock()
	r.sendMu.Lock()
	_, _, err = r.conn.WriteMsgUnix(msg, unix.UnixRights(fds...), nil)
	r.sendMu.Unlock()
	if err != nil {
		r.mu.Lock()
		delete(r.pending, req.ID)
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errRunnerGone, err)
	}
	return ch, nil
}

// cleanup asks a runner that is still there to remove the socket file and
// its directory now, and waits a bounded time for it to be done.
func (r *runner) cleanup() {
	ch, err := r.start(runRequest{ID: cleanupID, Op: opCleanup}, nil)
	if err != nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(time.Second):
	}
}

// close hangs up on the runner, which then kills what it runs and exits.
func (r *runner) close() { _ = r.conn.Close() }

// call is one exec call in flight, ningen's side.
type call struct {
	s       *Server
	t       *served
	out     *os.File   // read end of the tool's stdout
	writers []*os.File // write ends of the secret pipes
	wg      sync.WaitGroup
}

// callExec runs t through the runner and returns its masked stdout.
func (s *Server) callExec(t *served) (*Result, error) {
	if s.run == nil {
		return nil, errRunnerGone
	}
	c := &call{s: s, t: t}
	defer c.finish()
	send, err := c.pipes()
	if err != nil {
		closeFDs(send)
		return nil, err
	}
	req := runRequest{ID: s.nextID.Add(1), Argv: t.Command, Timeout: t.Timeout}
	for _, sec := range t.secrets {
		req.Secrets = append(req.Secrets, runSecret{Name: sec.Name, Env: t.Deliver == ByEnv})
	}
	replies, err := s.run.start(req, send)
	closeFDs(send) // the runner has its copies
	if err != nil {
		return nil, err
	}
	c.writeSecrets()
	m := newMasker(s.o.Vault, s.mask, t.MaxOutput)
	got := make(chan runReply, 1)
	go func() {
		rep, ok := <-replies
		if !ok {
			rep = runReply{Err: errRunnerGone.Error()}
		}
		_ = c.out.SetReadDeadline(time.Now().Add(drainAfterExit))
		got <- rep
	}()
	_ = c.out.SetReadDeadline(time.Now().Add(t.Timeout + time.Second))
	_, rerr := m.ReadFrom(c.out)
	out, merr := m.Close()
	if merr != nil {
		return nil, merr // the vault is closed: masking could not be done
	}
	var rep runReply
	select {
	case rep = <-got:
	case <-time.After(t.Timeout + 2*time.Second):
		return nil, fmt.Errorf("tool %s: the runner did not report its end", t.Name)
	}
	if rep.Err != "" {
		return nil, &RPCError{codeToolFailed, fmt.Sprintf("tool %s: %s", t.Name, rep.Err)}
	}
	if rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("tool %s: read its output: %w", t.Name, rerr)
	}
	note, isErr := trailer(rep, t.Tool, m.cut)
	text := string(out)
	if note != "" {
		if text != "" && text[len(text)-1] != '\n' {
			text += "\n"
		}
		text += note
	}
	return &Result{Content: []Content{{Type: "text", Text: text}}, IsError: isErr}, nil
}

// pipes makes the tool's stdout pipe and one pipe per secret, and returns
// the ends that go to the runner: stdout's write end, then each secret's
// read end. Those stay blocking (the tool reads them as it likes); ningen's
// ends are non-blocking, for the poller.
func (c *call) pipes() (send []int, err error) {
	r, w, err := pipe()
	if err != nil {
		return nil, err
	}
	send = append(send, w)
	if c.out, err = c.s.ownEnd(r, "tool-stdout"); err != nil {
		return send, err
	}
	for _, sec := range c.t.secrets {
		r, w, err := pipe()
		if err != nil {
			return send, err
		}
		send = append(send, r)
		if sec.Len() > 64<<10 {
			_, _ = unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, sec.Len())
		}
		f, err := c.s.ownEnd(w, "tool-secret")
		if err != nil {
			return send, err
		}
		c.writers = append(c.writers, f)
	}
	return send, nil
}

func pipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, fmt.Errorf("pipe for an exec tool: %w", err)
	}
	return p[0], p[1], nil
}

// ownEnd makes fd non-blocking and tracked, so Close can end a call.
func (s *Server) ownEnd(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if !s.track(f) {
		return nil, ErrEnding
	}
	return f, nil
}

// writeSecrets writes each secret into its pipe from the vault.
func (c *call) writeSecrets() {
	for i, w := range c.writers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_ = c.s.o.Vault.Stream(c.t.secrets[i], w)
			c.s.untrack(w)
		}()
	}
}

// finish stops writers the tool never read from and closes everything.
func (c *call) finish() {
	for _, w := range c.writers {
		_ = w.SetWriteDeadline(time.Unix(1, 0))
	}
	c.wg.Wait()
	if c.out != nil {
		c.s.untrack(c.out)
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}
