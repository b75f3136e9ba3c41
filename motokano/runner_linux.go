//go:build linux

package motokano

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/ningen-shikkaku/ningen/hardening"
	"golang.org/x/sys/unix"
)

// runnerFD is the runner's end of its socketpair with ningen.
const runnerFD = 3

// maxEnvSecret bounds a secret the runner reads for env delivery.
const maxEnvSecret = 16 << 20

// groupGoneLimit bounds the wait for a killed tool's group to empty.
const groupGoneLimit = 2 * time.Second

// RunToolRunner is `ningen toolrunner`: it runs exec tools for the ningen
// that started it, which has given up exec by then. It holds a secret only
// for env delivery, from the moment it reads it from ningen's pipe until
// the tool has started (the Go runtime's copy for execve stays in its heap
// until collected; the runner is non-dumpable and killed with the
// holders). fd-delivered secrets it never reads: it hands the tool
// ningen's pipe.
//
// It also removes the tool socket at socket and its directory, which
// ningen's seccomp policy does not let ningen do: when asked, on SIGTERM
// or SIGHUP (the kill step), and when ningen hangs up or dies. Then it
// kills every tool group and exits.
func RunToolRunner(socket string) error {
	if err := hardening.AtStart(); err != nil {
		return fmt.Errorf("harden the tool runner: %w", err)
	}
	f := os.NewFile(runnerFD, "ningen")
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("tool runner: not started by ningen run (no socket on descriptor %d): %w", runnerFD, err)
	}
	r := &toolRunner{conn: c.(*net.UnixConn), groups: map[int]bool{}, socket: socket}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		r.end()
		os.Exit(0)
	}()
	// Only now can a SIGTERM from the kill step remove the socket: say so,
	// and ningen starts the child.
	if _, err := r.conn.Write([]byte(runnerReady)); err != nil {
		return fmt.Errorf("tool runner: %w", err)
	}
	r.serve()
	r.end()
	return nil
}

// end removes the socket and kills every tool group.
func (r *toolRunner) end() {
	r.removeSocket()
	r.killAll()
}

// removeSocket removes the socket file and its directory, once, and only
// if they have the shape ningen gives them.
func (r *toolRunner) removeSocket() {
	r.cleanOnce.Do(func() {
		dir := filepath.Dir(r.socket)
		if filepath.Base(r.socket) != "tools.sock" || !strings.HasPrefix(filepath.Base(dir), "ningen-tools-") {
			return
		}
		_ = os.Remove(r.socket)
		_ = os.Remove(dir)
	})
}

type toolRunner struct {
	conn      *net.UnixConn
	socket    string
	cleanOnce sync.Once
	sendMu    sync.Mutex
	mu        sync.Mutex
	groups    map[int]bool // process groups of tools running now
}

func (r *toolRunner) serve() {
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(64*4))
	for {
		n, oobn, _, _, err := r.conn.ReadMsgUnix(buf, oob)
		if err != nil || (n == 0 && oobn == 0) {
			return // ningen hung up
		}
		fds := parseRights(oob[:oobn])
		var req runRequest
		err = json.Unmarshal(buf[:n], &req)
		if err == nil && req.Op == opCleanup {
			closeFDs(fds)
			r.removeSocket()
			r.reply(runReply{ID: req.ID})
			continue
		}
		if err != nil || len(fds) != 1+len(req.Secrets) || len(req.Argv) == 0 {
			closeFDs(fds)
			r.reply(runReply{ID: req.ID, Err: "malformed request"})
			continue
		}
		go r.run(req, fds)
	}
}

func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func (r *toolRunner) reply(rep runReply) {
	b, _ := json.Marshal(rep)
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	_, _ = r.conn.Write(b)
}

// run starts one tool in its own process group, waits for it, kills the
// group at the timeout or when the tool exits, and reports.
func (r *toolRunner) run(req runRequest, fds []int) {
	defer closeFDs(fds)
	pid, err := r.start(req, fds)
	if err != nil {
		r.reply(runReply{ID: req.ID, Err: err.Error()})
		return
	}
	rep := runReply{ID: req.ID}
	var mu sync.Mutex // the timer never signals once the tool is reaped
	reaped := false
	timer := time.AfterFunc(req.Timeout, func() {
		mu.Lock()
		defer mu.Unlock()
		if !reaped {
			rep.TimedOut = true
			_ = unix.Kill(-pid, unix.SIGKILL)
		}
	})
	waitExited(pid) // the tool is a zombie now: its pid, and so its group id, cannot be reused yet
	timer.Stop()
	mu.Lock()
	reaped = true
	mu.Unlock()
	_ = unix.Kill(-pid, unix.SIGKILL) // whatever it left behind in its group
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	r.mu.Lock()
	delete(r.groups, pid)
	r.mu.Unlock()
	waitGroupGone(pid)
	switch {
	case ws.Signaled():
		rep.Signal, rep.Exit = int(ws.Signal()), -1
	default:
		rep.Exit = ws.ExitStatus()
	}
	r.reply(rep)
}

// start execs the tool: stdout on ningen's pipe, stdin and stderr on
// /dev/null (stderr would bypass the masking), fd-delivered secrets on
// descriptors 3 and up, env-delivered ones read from their pipes into the
// environment.
func (r *toolRunner) start(req runRequest, fds []int) (int, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	files := []uintptr{devnull.Fd(), uintptr(fds[0]), devnull.Fd()}
	env := os.Environ()
	var held [][]byte
	defer func() {
		for _, b := range held {
			clear(b)
		}
	}()
	for i, s := range req.Secrets {
		fd := fds[1+i]
		if !s.Env {
			env = append(env, fmt.Sprintf("NINGEN_FD_%s=%d", s.Name, len(files)))
			files = append(files, uintptr(fd))
			continue
		}
		kv, err := readEnvSecret(s.Name, fd)
		fds[1+i] = -1 // closed by readEnvSecret: its number may be another's by the time run ends
		if err != nil {
			return 0, err
		}
		held = append(held, kv)
		env = append(env, unsafe.String(&kv[0], len(kv)))
	}
	path, err := exec.LookPath(req.Argv[0])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", req.Argv[0], errors.Unwrap(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	pid, err := syscall.ForkExec(path, req.Argv, attr)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", req.Argv[0], err)
	}
	r.groups[pid] = true
	return pid, nil
}

// readEnvSecret reads NAME=value from ningen's pipe into one buffer (grown
// by doubling, each old buffer zeroed), for the tool's environment. It
// closes fd.
func readEnvSecret(name string, fd int) ([]byte, error) {
	f := os.NewFile(uintptr(fd), "secret")
	defer f.Close()
	buf := make([]byte, len(name)+1, len(name)+1+256)
	copy(buf, name+"=")
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxEnvSecret {
				clear(buf)
				return nil, fmt.Errorf("secret %s is larger than %d bytes", name, maxEnvSecret)
			}
			next := make([]byte, len(buf), 2*cap(buf))
			copy(next, buf)
			clear(buf)
			buf = next
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			clear(buf)
			return nil, fmt.Errorf("read secret %s: %w", name, err)
		}
	}
}

// waitExited waits for pid to exit without reaping it.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// waitGroupGone waits, a bounded time, until no process is left in the
// group (killed members reparent to ningen, which reaps them), so that a
// reply means the tool and its children are gone. The kernel has no event
// for that, so it looks every millisecond.
func waitGroupGone(pgid int) {
	deadline := time.Now().Add(groupGoneLimit)
	for unix.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// killAll kills every tool group still running.
func (r *toolRunner) killAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pgid := range r.groups {
		_ = unix.Kill(-pgid, unix.SIGKILL)
	}
}
