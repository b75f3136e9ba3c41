package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSourcesStdinAndFD: the stdin and fd:N sources read byte-exact into
// the vault and reach the child; the inherited source descriptor itself is
// not passed on.
func TestSourcesStdinAndFD(t *testing.T) {
	t.Parallel()
	out := dumpDir(t)
	fromStdin, fromFD := randSecret(t), randSecret(t)
	srcR, srcW := mustPipe(t)
	defer srcR.Close()
	go func() {
		_, _ = srcW.Write(append(append([]byte(nil), fromFD...), '\n'))
		srcW.Close()
	}()
	s := start(t, opts{stdin: true, extra: []*os.File{srcR}}, "run",
		"-s", "IN=stdin", "-s", "FD=fd:3",
		"--", python, childPy(), "dump", out)
	if _, err := s.stdin.Write(fromStdin); err != nil {
		t.Fatal(err)
	}
	s.stdin.Close()
	wantExit(t, s, s.wait(), 0)
	sameBytes(t, "IN from stdin", readDump(t, out, "fd.IN"), fromStdin)
	sameBytes(t, "FD from fd:3", readDump(t, out, "fd.FD"), fromFD)
	fds := readLinesFile(t, out+"/fds")
	if len(fds) != 5 {
		t.Errorf("child descriptors:\n%s\nwant 0-2 and the two deliveries", strings.Join(fds, "\n"))
	}
	s.out.awaitEOF(t)
	s.err.awaitEOF(t)
	noLeak(t, s, fromStdin, fromFD)
}

// TestAuditFormats: --log-format json gives one JSON object per step, in
// order, with the same facts as the text form; -q gives none.
func TestAuditFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	v := randSecret(t)
	secretFile := writeSecret(t, dir, "v", v)
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		s, st := runSession(t, opts{}, "run", "--log-format", "json", "-s", "V=file:"+secretFile, "--", "/bin/sh", "-c", "exit 9")
		wantExit(t, s, st, 9)
		var events []string
		for _, l := range s.err.Lines() {
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("audit line is not JSON: %q: %v", l, err)
			}
			if m["ningen"] != "audit" {
				continue
			}
			ev, _ := m["event"].(string)
			if ev == "kill" || ev == "wipe" || ev == "exit" {
				events = append(events, ev)
				if m["trigger"] != "child-exit" {
					t.Errorf("%s event with trigger %v, want child-exit", ev, m["trigger"])
				}
			}
			if ev == "exit" && m["code"] != float64(9) {
				t.Errorf("exit event code %v, want 9", m["code"])
			}
			if ev == "wipe" {
				if n, _ := m["bytes"].(float64); n < float64(len(v)) {
					t.Errorf("wipe event bytes %v, want at least %d", m["bytes"], len(v))
				}
			}
		}
		if strings.Join(events, ",") != "kill,wipe,exit" {
			t.Errorf("JSON audit events %v, want kill,wipe,exit\n%s", events, s.err.dump())
		}
		noLeak(t, s, v)
	})
	t.Run("quiet", func(t *testing.T) {
		t.Parallel()
		s, st := runSession(t, opts{}, "run", "-q", "-s", "V=file:"+secretFile, "--", "true")
		wantExit(t, s, st, 0)
		if a := audits(s.err.Lines()); len(a) != 0 {
			t.Errorf("-q still printed %d audit lines", len(a))
		}
	})
}

// TestTriggerWhileSourceWaits: SIGTERM while a source still waits for its
// value (stdin, fd:N and a FIFO file: with nobody writing, an exec: command
// that sleeps) ends ningen then, not when the value comes: it dies of
// SIGTERM, the command never starts, and an exec: source's command is
// killed. ningen has locked memory for the value (VmLck) before it waits,
// which is how the test knows it is waiting.
func TestTriggerWhileSourceWaits(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, source string
		o            opts
	}{
		{"stdin", "stdin", opts{stdin: true}},
		{"fd", "fd:3", opts{}},
		{"fifo", "file:" + fifo, opts{}},
		{"exec", "exec:", opts{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			marker := newMarker(t)
			c.o.marker = marker
			source := c.source
			switch c.name {
			case "exec":
				source = "exec:sleep 1000; : " + marker // the shell holds the marker
			case "fd":
				r, w := mustPipe(t)
				t.Cleanup(func() { r.Close(); w.Close() }) // w held open: no EOF
				c.o.extra = []*os.File{r}
			}
			s := start(t, c.o, "run", "--vault", "locked", "-s", "K="+source,
				"--", "sh", "-c", "echo started "+marker)
			if c.name == "exec" {
				awaitMarked(t, marker)
			} else {
				awaitLocked(t, s.pid)
			}
			s.signal(syscall.SIGTERM)
			wantSignaled(t, s, s.wait(), syscall.SIGTERM)
			awaitNoneMarked(t, marker)
			s.out.awaitEOF(t)
			if n := count(s.out.Lines(), "started"); n != 0 {
				t.Errorf("the command started after a trigger during the loading:\n%s", s.out.dump())
			}
		})
	}
}

// awaitLocked waits until ningen has locked memory.
func awaitLocked(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		if kb, _ := vmLckKB(pid); kb > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ningen (pid %d) locked no memory within %s", pid, waitLong)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vmLckKB is VmLck in /proc/PID/status: the memory pid has locked, in kB;
// -1 when the line is missing.
func vmLckKB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmLck:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return -1, nil
}

// awaitMarked waits until a process holding marker runs.
func awaitMarked(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for len(marked(marker)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no process with %s within %s", marker, waitLong)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
