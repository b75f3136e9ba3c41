package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ningen-shikkaku/ningen/hardening"
	"github.com/ningen-shikkaku/ningen/launcher"
	"github.com/ningen-shikkaku/ningen/motokano"
	"github.com/ningen-shikkaku/ningen/signals"
	"github.com/ningen-shikkaku/ningen/vault"
	"golang.org/x/sys/unix"
)

// RunCmd is `ningen run`.
type RunCmd struct {
	Secret        []string      `short:"s" sep:"none" placeholder:"NAME=SOURCE" help:"Load secret NAME from SOURCE: file:PATH, env:VAR, exec:CMD, stdin, prompt[:TEXT] or fd:N. Repeatable."`
	Deliver       []string      `sep:"none" placeholder:"[NAME=]MODE" help:"How secrets reach the child: fd (a pipe, named by NINGEN_FD_<NAME>; the default), memfd (a sealed memfd, re-readable), secretmem (a memfd_secret to mmap), env (its environment: visible in /proc) or none (kept for --tools only). NAME=MODE sets one secret. Repeatable."`
	Env           []string      `sep:"none" placeholder:"NAME" help:"Deliver secret NAME through the environment (same as --deliver NAME=env). Repeatable."`
	Raw           []string      `sep:"none" placeholder:"NAME" help:"Keep secret NAME's bytes as read: do not trim one trailing newline. Repeatable."`
	TTL           time.Duration `name:"ttl" placeholder:"DURATION" help:"End the session DURATION after the command starts (exit 124); 0, the default, sets no limit."`
	Grace         time.Duration `default:"2s" placeholder:"DURATION" help:"How long holders get between SIGTERM and SIGKILL; 0 kills at once. Default: ${default}."`
	MaxSecretSize ByteSize      `default:"64KiB" placeholder:"SIZE" help:"Largest secret accepted (e.g. 64KiB, 2MiB). Default: ${default}."`
	ExecTimeout   time.Duration `default:"30s" placeholder:"DURATION" help:"How long an exec: source may run. Default: ${default}."`
	Track         string        `enum:"auto,cgroup,subreaper" default:"auto" help:"How holders are tracked: cgroup (a cgroup v2 group killed with cgroup.kill; needs a writable hierarchy), subreaper (ningen adopts and sweeps the tree), or auto (cgroup where possible)."`
	Vault         string        `enum:"auto,secretmem,locked" default:"auto" help:"Secret memory: secretmem (memfd_secret: out of the kernel's direct map, unreadable even by root), locked (mlock), or auto (secretmem where the kernel has it)."`
	LogFormat     string        `enum:"text,json" default:"text" help:"Audit line format on stderr: text or json."`
	Quiet         bool          `short:"q" help:"No audit lines; warnings and errors still go to stderr."`
	Seccomp       string        `enum:"kill,log,trap,off" default:"kill" placeholder:"MODE" help:"Once the child runs, confine ningen to its system-call allowlist (ningen check --seccomp lists it): kill (any other call kills ningen with SIGSYS, and the child with it), log or trap (diagnosis: the kernel logs the call, or the Go runtime prints where it was made), off (no filter; loud in the audit log). Default: ${default}."`
	Tools         string        `placeholder:"FILE" help:"Serve the tools FILE declares (TOML) to the child on the Unix socket named by NINGEN_TOOLS; ningen mcp serves them to an MCP client."`
	Command       []string      `arg:"" passthrough:"partial" help:"The command to run, after --."`
}

// plan is a validated run command: everything checked before any secret is
// read, so usage errors exit 2 with nothing loaded.
type plan struct {
	specs []vault.Spec
	modes map[string]launcher.Mode
	raw   map[string]bool
	args  []string
	fds   map[string]int

	secrets map[string]*vault.Secret // filled by load
	tools   *motokano.Config         // nil without --tools
}

// noSuchSecret says a name given to --env, --raw or --deliver is none of
// the secrets, without repeating it: it may be a value typed where its
// name belongs. The names given with -s are the user's own, and shown.
func (p *plan) noSuchSecret() string {
	names := make([]string, 0, len(p.specs))
	for _, s := range p.specs {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return "no secret of that name (not shown, in case it is a value): give it with -s NAME=SOURCE"
	}
	return "no secret of that name (not shown, in case it is a value): the secrets are " + strings.Join(names, ", ")
}

func (r *RunCmd) plan() (*plan, error) {
	p := &plan{modes: map[string]launcher.Mode{}, raw: map[string]bool{}}
	if err := r.checkDurations(); err != nil {
		return nil, err
	}
	stdin := 0
	for _, s := range r.Secret {
		spec, err := vault.ParseSpec(s)
		if err != nil {
			return nil, usageError{err}
		}
		if p.modes[spec.Name] != "" {
			return nil, usagef("secret %s is given twice", spec.Name)
		}
		if err := checkFDSource(spec); err != nil {
			return nil, err
		}
		if spec.Source.Kind == vault.FromStdin {
			stdin++
		}
		p.specs = append(p.specs, spec)
		p.modes[spec.Name] = launcher.ByFD
	}
	if stdin > 1 {
		return nil, usagef("only one secret can come from stdin")
	}
	if err := r.applyModes(p); err != nil {
		return nil, err
	}
	for _, name := range r.Raw {
		if p.modes[name] == "" {
			return nil, usagef("--raw: %s", p.noSuchSecret())
		}
		p.raw[name] = true
	}
	if err := r.loadTools(p); err != nil {
		return nil, err
	}
	return p, r.expand(p)
}

// checkFDSource accepts fd:N only for a descriptor ningen inherited:
// not 0-2 (use stdin; closing them would hand the child an internal
// descriptor in their place) and not close-on-exec, which is what the Go
// runtime's own descriptors are. Called before hardening marks every
// inherited descriptor close-on-exec.
func checkFDSource(spec vault.Spec) error {
	if spec.Source.Kind != vault.FromFD {
		return nil
	}
	fd, _ := strconv.Atoi(spec.Source.Arg)
	if fd <= 2 {
		return usagef("secret %s: fd:%d is a standard descriptor (use stdin for fd 0)", spec.Name, fd)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		// Not open now: later the number could be one ningen opened itself.
		return &vault.SourceError{Name: spec.Name, Source: spec.Source,
			Err: fmt.Errorf("descriptor %d is not open: %w", fd, err)}
	}
	if flags&unix.FD_CLOEXEC != 0 {
		return usagef("secret %s: descriptor %d was not inherited by ningen", spec.Name, fd)
	}
	return nil
}

// checkDurations refuses negative durations, which would otherwise mean
// "none" or "the default" without a word.
func (r *RunCmd) checkDurations() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--ttl", r.TTL}, {"--grace", r.Grace}, {"--exec-timeout", r.ExecTimeout}} {
		if d.v < 0 {
			return usagef("%s %s: a duration cannot be negative", d.flag, d.v)
		}
	}
	return nil
}

func (r *RunCmd) applyModes(p *plan) error {
	defaultMode := launcher.ByFD
	set := map[string]launcher.Mode{}
	for _, d := range r.Deliver {
		name, m, hasName := strings.Cut(d, "=")
		if !hasName {
			m = name
		}
		mode, err := launcher.ParseMode(m)
		if err != nil {
			return usageError{err}
		}
		if !hasName {
			defaultMode = mode
		} else {
			set[name] = mode
		}
	}
	for _, name := range r.Env {
		if p.modes[name] == "" {
			return usagef("--env: %s", p.noSuchSecret())
		}
		set[name] = launcher.ByEnv
	}
	for name := range p.modes {
		p.modes[name] = defaultMode
	}
	for name, mode := range set {
		if p.modes[name] == "" {
			return usagef("--deliver: %s", p.noSuchSecret())
		}
		p.modes[name] = mode
	}
	return nil
}

func (r *RunCmd) expand(p *plan) error {
	// kong keeps the "--" that ends ningen's flags. Without it, the first
	// word that is no flag would start the command, and every flag after it
	// would go to the command: a token pasted there would be run, and named
	// in "command not found". So the command comes after --, always.
	if len(r.Command) == 0 || r.Command[0] != "--" {
		return usagef("the command must come after --, and an argument before -- is not a flag of ningen run (not shown, in case it is a value): ningen run [flags] -- COMMAND [ARGS...]")
	}
	r.Command = r.Command[1:]
	if len(r.Command) == 0 {
		return usagef("no command given: ningen run [flags] -- COMMAND [ARGS...]")
	}
	names := make([]string, len(p.specs))
	for i, s := range p.specs {
		names[i] = s.Name
	}
	p.fds = launcher.FDNumbers(names, p.modes)
	args, err := launcher.ExpandArgs(r.Command, p.fds)
	if err != nil {
		return usageError{err}
	}
	p.args = args
	return nil
}

// Run is the whole session, in order: check the command line, harden,
// arm the triggers, load every secret, start the child, run the kill
// sequence when a trigger fires. It returns only when the session could
// not start; the sequence exits ningen itself.
func (r *RunCmd) Run() error {
	p, err := r.plan()
	if err != nil {
		return err
	}
	if err := hardening.AtStart(); err != nil {
		return fmt.Errorf("harden ningen: %w", err)
	}
	// The cgroup and its watchdog need no secret: they are made while the
	// secrets load. After AtStart, so the watchdog inherits no descriptor.
	prep := launcher.Prepare(launcher.Tracking(r.Track), watchdogArgv())
	audit := auditor{json: r.LogFormat == "json", quiet: r.Quiet}
	platformNotice()
	seq := &signals.Sequence{Grace: r.Grace, Exit: exitAfterAudit, Audit: audit.step}
	done := make(chan struct{})
	holders := &sessionHolders{}
	catchRest := signals.Watch(seq, signals.WatchOptions{Forward: holders.forward, Interactive: holders.interactive, Done: done})

	v, err := vault.Open(vault.Backing(r.Vault))
	if err != nil {
		prep.Abandon()
		return err
	}
	var tools *motokano.Server
	started := false
	defer func() { // a start that fails leaves nothing behind
		if !started {
			_ = tools.Close()
			_, _ = v.Close()
			prep.Abandon()
		}
	}()
	if err := r.load(v, p, seq); err != nil {
		if seq.Fired() {
			// A signal, or the parent's death, ended the start: the sequence
			// runs with no holder yet and ningen exits as that trigger says.
			seq.Holders, seq.Wipe = noHolders{prep}, v.Close
			seq.Run()
		}
		return err
	}
	filter, err := r.seccompFilter()
	if err != nil {
		return err
	}
	cfg := r.config(v, p)
	cfg.Prepared = prep
	if tools, err = r.startTools(v, p, &cfg, seq, audit); err != nil {
		return err
	}
	holders.start()
	sess, err := launcher.Start(cfg, func() { seq.Fire(signals.Trigger{Cause: signals.ChildExited}) })
	if err != nil {
		return err
	}
	started = true
	holders.set(sess)
	tools.Serve(sess)
	seq.Holders = holders
	seq.Wipe = func() (int, error) { _ = tools.Close(); sess.CloseDeliveries(); return v.Close() }
	seq.Exit = func(e signals.Exit) {
		if err := sess.Close(); err != nil { // the group is left to the watchdog and the next start
			audit.event("cleanup", field{"error", err})
		}
		exitAfterAudit(e)
	}
	if r.TTL > 0 {
		time.AfterFunc(r.TTL, func() { seq.Fire(signals.Trigger{Cause: signals.TTL}) })
	}
	r.confine(filter, audit, seq)
	catchRest() // while the child starts; before the start line says it runs
	mode, why := sess.Tracking()
	audit.event("start", field{"child", sess.PID()}, field{"secrets", len(p.specs)},
		field{"locked", v.Locked()}, field{"vault", string(v.Backing())},
		field{"tracking", string(mode)}, field{"why", why}, field{"interactive", sess.Interactive()})
	seq.Run()
	close(done)
	return nil
}

// seccompFilter compiles the allowlist of SPEC §6 before anything starts,
// so that a host which cannot enforce G4 is refused with nothing started.
// Off Linux there is none, and the platform notice has said so.
func (r *RunCmd) seccompFilter() (*hardening.Filter, error) {
	if r.Seccomp == string(hardening.SeccompOff) {
		return nil, nil
	}
	f, err := hardening.NewFilter(hardening.SeccompMode(r.Seccomp))
	if errors.Is(err, hardening.ErrUnsupported) && runtime.GOOS != "linux" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("confine ningen: %w (--seccomp=off runs the session without the allowlist)", err)
	}
	return f, nil
}

// confine loads the filter now that the child runs. If that fails the
// session is refused: the kill sequence ends it and ningen exits 125.
func (r *RunCmd) confine(f *hardening.Filter, audit auditor, seq *signals.Sequence) {
	if f == nil {
		if r.Seccomp == string(hardening.SeccompOff) {
			warningf("--seccomp=off: this session runs without the system-call allowlist (G4 does not hold)")
		}
		audit.event("seccomp", field{"mode", r.Seccomp}, field{"loaded", false})
		return
	}
	c, err := f.Load()
	if err != nil {
		errorf("%v; ending the session", err)
		exit := seq.Exit
		seq.Exit = func(signals.Exit) { exit(signals.Exit{Code: exitSetup}) }
		seq.Fire(signals.Trigger{Cause: signals.Panic})
		return
	}
	if c.Mode != hardening.SeccompKill {
		warningf("--seccomp=%s is for diagnosis: calls outside the allowlist are not killed", c.Mode)
	}
	audit.event("seccomp", field{"mode", string(c.Mode)}, field{"loaded", true}, field{"rules", c.Rules},
		field{"threads", c.Threads}, field{"took", c.Took})
}

// load reads every secret. env: sources go first, so that no exec: source
// (a shell ningen starts) inherits a variable that is about to become a
// secret. A trigger that fires meanwhile aborts the start.
func (r *RunCmd) load(v *vault.Vault, p *plan, seq *signals.Sequence) error {
	p.secrets = map[string]*vault.Secret{}
	envFirst := slices.Clone(p.specs)
	slices.SortStableFunc(envFirst, func(a, b vault.Spec) int {
		return boolInt(b.Source.Kind == vault.FromEnv) - boolInt(a.Source.Kind == vault.FromEnv)
	})
	for _, s := range envFirst {
		o := vault.LoadOptions{MaxSize: int(r.MaxSecretSize), Raw: p.raw[s.Name], ExecTimeout: r.ExecTimeout,
			Abort: seq.Triggered()}
		sec, err := v.Load(s.Name, s.Source, o)
		if err != nil {
			return err
		}
		p.secrets[s.Name] = sec
		if seq.Fired() {
			return fmt.Errorf("a trigger fired while secrets were loading; nothing was started")
		}
	}
	for name, mode := range p.modes {
		if mode == launcher.ByEnv {
			warningf("secret %s goes into the child's environment: any process of the same user can read it in /proc/PID/environ, and a copy stays in ningen's heap, outside the wipe", name)
		}
	}
	return nil
}

func (r *RunCmd) config(v *vault.Vault, p *plan) launcher.Config {
	var ds []launcher.Delivery
	for _, s := range p.specs { // in command-line order, as FDNumbers numbered them
		ds = append(ds, launcher.Delivery{Name: s.Name, Mode: p.modes[s.Name], Secret: p.secrets[s.Name]})
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, launcher.FDEnvPrefix)
	})
	return launcher.Config{
		Args: p.args, Env: env, Deliveries: ds, Vault: v,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Track: launcher.Tracking(r.Track), Watchdog: watchdogArgv(),
	}
}

// watchdogArgv starts `ningen watchdog` from this very binary.
func watchdogArgv() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe, "watchdog"}
}

// platformNotice is loud on purpose: off Linux, several guarantees are gone.
func platformNotice() {
	missing := hardening.Missing()
	if len(missing) == 0 {
		return
	}
	warningf("on %s these guarantees do not hold:", runtime.GOOS)
	for _, m := range missing {
		warningf("  %s", m)
	}
}

// step formats one audit line of the kill sequence.
func (a auditor) step(s signals.Step) {
	fs := []field{{"trigger", s.Trigger.String()}}
	switch s.Name {
	case "kill":
		fs = append(fs, field{"signaled", s.Signaled}, field{"killed", s.Killed}, field{"took", s.Took})
	case "wipe":
		fs = append(fs, field{"bytes", s.Bytes}, field{"took", s.Took})
	case "exit":
		fs = append(fs, field{"code", s.Exit.Code})
		if s.Exit.Signal != 0 {
			fs = append(fs, field{"signal", signals.SignalName(s.Exit.Signal)})
		}
	}
	if s.Err != nil {
		fs = append(fs, field{"error", s.Err})
	}
	a.event(s.Name, fs...)
}

// sessionHolders adapts the session to the sequence, and lets the signal
// watcher, armed before the child exists, reach it once it does.
type sessionHolders struct {
	p atomic.Pointer[launcher.Session]

	mu       sync.Mutex
	starting bool             // the child is being started
	pending  []syscall.Signal // forwarded while it was, before set
}

// start says the child is about to exist: a signal to forward from now on
// is kept until set, as the child itself may send one as its first act.
func (h *sessionHolders) start() {
	h.mu.Lock()
	h.starting = true
	h.mu.Unlock()
}

// set hands the session over and forwards what came meanwhile, in order.
func (h *sessionHolders) set(s *launcher.Session) {
	h.mu.Lock()
	h.p.Store(s)
	pending := h.pending
	h.pending = nil
	h.mu.Unlock()
	for _, sig := range pending {
		s.Forward(sig)
	}
}

// maxPending bounds the signals kept for a child still starting.
const maxPending = 16

func (h *sessionHolders) forward(sig syscall.Signal) {
	h.mu.Lock()
	s := h.p.Load()
	if s == nil && h.starting && len(h.pending) < maxPending {
		h.pending = append(h.pending, sig) // before start there is nobody to forward to
	}
	h.mu.Unlock()
	if s != nil {
		s.Forward(sig)
	}
}

func (h *sessionHolders) interactive() bool {
	s := h.p.Load()
	return s != nil && s.Interactive()
}

func (h *sessionHolders) Signal(sig syscall.Signal) int { return h.p.Load().Signal(sig) }
func (h *sessionHolders) Gone() <-chan struct{}         { return h.p.Load().Gone() }
func (h *sessionHolders) Status() (int, bool)           { return h.p.Load().Status() }

// Kill kills every holder, then lets go of the terminal and the spawning
// thread: nothing of the session is left to hold them for.
func (h *sessionHolders) Kill() (int, error) {
	s := h.p.Load()
	n, err := s.Kill()
	s.Finish()
	return n, err
}

// loadTools checks the --tools file against the -s names: a mistake in it is
// a usage error, found before anything starts.
func (r *RunCmd) loadTools(p *plan) error {
	if r.Tools == "" {
		return nil
	}
	names := make([]string, len(p.specs))
	for i, s := range p.specs {
		names[i] = s.Name
	}
	cfg, err := motokano.Load(r.Tools, names)
	if err != nil {
		return usageError{err}
	}
	p.tools = cfg
	return nil
}

// startTools starts the --tools server before the child: its socket and
// its exec runner must exist before the seccomp filter forbids making
// them. The child finds the socket in NINGEN_TOOLS. nil without --tools.
func (r *RunCmd) startTools(v *vault.Vault, p *plan, cfg *launcher.Config, seq *signals.Sequence, audit auditor) (*motokano.Server, error) {
	if p.tools == nil {
		return nil, nil
	}
	secrets := make([]*vault.Secret, len(cfg.Deliveries))
	for i, d := range cfg.Deliveries {
		secrets[i] = d.Secret
	}
	var runner []string
	if exe, err := os.Executable(); err == nil {
		runner = []string{exe, "toolrunner"}
	}
	srv, err := motokano.Start(p.tools, secrets, motokano.Options{
		Vault: v, Env: cfg.Env, Runner: runner, Ending: seq.Fired,
		Panic: func() { seq.Fire(signals.Trigger{Cause: signals.Panic}) },
		Audit: func(e motokano.Event) {
			audit.event(e.Name, field{"pid", e.PID}, field{"uid", e.UID}, field{"why", e.Why})
		},
	})
	if err != nil {
		return nil, err
	}
	cfg.Env = srv.Environ(cfg.Env)
	audit.event("tools", field{"socket", srv.Path()}, field{"count", len(p.tools.Tools)})
	return srv, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// exitAfterAudit is step 3: give the audit lines a moment to reach stderr,
// never more, then die as the sequence decided.
func exitAfterAudit(e signals.Exit) {
	flushAudit(250 * time.Millisecond)
	signals.Die(e)
}

// noHolders stands in for a session that never started; its kill step
// undoes what was prepared for it.
type noHolders struct{ prep *launcher.Preparation }

func (noHolders) Signal(syscall.Signal) int { return 0 }
func (h noHolders) Kill() (int, error)      { h.prep.Abandon(); return 0, nil }
func (noHolders) Status() (int, bool)       { return exitSetup, true }
func (noHolders) Gone() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
