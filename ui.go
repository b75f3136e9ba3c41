package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ningen-shikkaku/ningen/launcher"
	"github.com/ningen-shikkaku/ningen/vault"
)

// This file is the one place that formats what the user sees on stderr.

func errorf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ningen: error: "+format+"\n", a...)
}

func warningf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ningen: warning: "+format+"\n", a...)
}

func hintf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ningen: hint: "+format+"\n", a...)
}

// usageError is a mistake in the command line found after parsing.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// fail prints err, with a hint where there is one, and returns the exit
// code it maps to. nil is 0.
func fail(err error) int {
	if err == nil {
		return 0
	}
	errorf("%v", err)
	var le *vault.LockError
	if errors.As(err, &le) {
		hintf("%s", le.Hint())
	}
	if errors.Is(err, launcher.ErrCgroupTracking) {
		hintf("cgroup mode needs root or a delegated cgroup v2 subtree; --track auto (the default) falls back to subreaper mode")
	}
	if errors.Is(err, vault.ErrTooLarge) {
		hintf("--max-secret-size raises the limit (for example --max-secret-size 2MiB)")
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, launcher.ErrNotFound):
		return exitNotFound
	case errors.Is(err, launcher.ErrNotExecutable):
		return exitNotExecutable
	}
	return exitSetup
}

// auditor writes one line per audit event, as text or JSON. Fields keep
// their order; values are counts, names and durations, never secrets.
type auditor struct {
	json  bool
	quiet bool
}

type field struct {
	key string
	val any
}

func (a auditor) event(event string, fields ...field) {
	if a.quiet {
		return
	}
	if a.json {
		a.writeJSON(event, fields)
		return
	}
	var b strings.Builder
	b.WriteString("ningen: audit event=" + event)
	for _, f := range fields {
		fmt.Fprintf(&b, " %s=%s", f.key, textValue(f.val))
	}
	a.write(b.String())
}

// write puts one line on stderr; during a session the child may own the
// terminal's foreground, so the write must not stop ningen.
//
// Lines are queued and written by one goroutine: a stderr that does not
// drain (a full pipe, a terminal with output suspended) must never hold
// up the kill sequence. When the queue is full the line is dropped.
func (a auditor) write(line string) {
	auditOnce.Do(func() { go writeAudit() })
	select {
	case auditQueue <- auditItem{text: line}:
	default: // dropped
	}
}

// auditItem is a line to write, or, with flushed set, a mark the writer
// closes once every line queued before it is out.
type auditItem struct {
	text    string
	flushed chan struct{}
}

var (
	auditOnce  sync.Once
	auditQueue = make(chan auditItem, 64)
)

func writeAudit() {
	for l := range auditQueue {
		if l.flushed != nil {
			close(l.flushed)
			continue
		}
		launcher.WithoutTTOU(func() { fmt.Fprintln(os.Stderr, l.text) })
	}
}

// flushAudit waits, at most d, for the queued lines to reach stderr: the
// last step before ningen exits.
func flushAudit(d time.Duration) {
	auditOnce.Do(func() { go writeAudit() })
	timeout := time.After(d)
	mark := auditItem{flushed: make(chan struct{})}
	select {
	case auditQueue <- mark:
	case <-timeout:
		return
	}
	select {
	case <-mark.flushed:
	case <-timeout:
	}
}

func (a auditor) writeJSON(event string, fields []field) {
	var b strings.Builder
	b.WriteString(`{"ningen":"audit","event":` + quoteJSON(event))
	for _, f := range fields {
		v := f.val
		switch x := v.(type) {
		case time.Duration:
			v = float64(x.Microseconds()) / 1000 // milliseconds
		case error:
			v = x.Error()
		}
		val, _ := json.Marshal(v)
		b.WriteString("," + quoteJSON(f.key) + ":" + string(val))
	}
	b.WriteString("}")
	a.write(b.String())
}

func textValue(v any) string {
	switch x := v.(type) {
	case time.Duration:
		return x.Round(time.Microsecond).String()
	case string:
		if strings.ContainsAny(x, " \"=") || x == "" {
			return quoteJSON(x)
		}
		return x
	case error:
		return quoteJSON(x.Error())
	}
	return fmt.Sprint(v)
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
