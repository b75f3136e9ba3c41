// The runtime's background GOMAXPROCS updates (Go 1.25+) are off: ningen's
// seccomp filter would otherwise depend on what they call in each release.
//go:debug updatemaxprocs=0

// Command ningen wraps one command for one session: it loads secrets into
// locked memory, hands them to the child without the environment or argv,
// supervises the child's whole tree and, when the session ends, kills every
// holder, wipes every secret and exits, once, in that order.
package main

import (
	"context"
	"os"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/ningen-shikkaku/ningen/launcher"
	"github.com/ningen-shikkaku/ningen/motokano"
)

// Exit codes of SPEC §5, after tini and coreutils.
const (
	exitUsage         = 2
	exitSetup         = 125
	exitNotExecutable = 126
	exitNotFound      = 127
)

// version is set at build time with -ldflags "-X main.version=..."
// (scripts/build.sh does).
var version = "dev"

// CLI is ningen's grammar.
type CLI struct {
	Run     RunCmd     `cmd:"" help:"Run COMMAND for one session with secrets delivered to it."`
	Check   CheckCmd   `cmd:"" help:"Report which guarantees hold on this host."`
	Version VersionCmd `cmd:"" help:"Print the version."`
	MCP     MCPCmd     `cmd:"" name:"mcp" help:"Serve the session's tools (run --tools) to an MCP client over stdio; the client must run inside the session."`

	Watchdog   WatchdogCmd   `cmd:"" hidden:"" help:"Internal: kill a session's cgroup if its ningen dies without cleaning up."`
	Toolrunner ToolrunnerCmd `cmd:"" hidden:"" help:"Internal: run the exec tools of the ningen that started it."`
}

// MCPCmd is `ningen mcp`, launched by an MCP client inside a session.
type MCPCmd struct{}

// Run serves until the client hangs up.
func (MCPCmd) Run() error {
	socket := os.Getenv(motokano.EnvVar)
	if socket == "" {
		return usagef("not inside a ningen session with tools: %s is not set (start the MCP client with ningen run --tools FILE -- CLIENT, and let it pass %s on to ningen mcp)", motokano.EnvVar, motokano.EnvVar)
	}
	return motokano.ServeMCP(context.Background(), socket, version, os.Stdin, os.Stdout)
}

// ToolrunnerCmd is the process `ningen run --tools` starts to exec tools.
type ToolrunnerCmd struct {
	Socket string `required:"" help:"The tool socket it removes at the end."`
}

// Run serves ningen's requests until it hangs up.
func (t ToolrunnerCmd) Run() error { return motokano.RunToolRunner(t.Socket) }

// WatchdogCmd is the process `ningen run` starts beside a cgroup session.
type WatchdogCmd struct {
	Pid    int    `required:""`
	Cgroup string `required:"" type:"path"`
	Pidfd  int    `required:"" help:"A pidfd of that ningen."`
	Detach bool   `help:"Start the watchdog again as a grandchild, and exit."`
}

// Run waits for ningen to die and cleans up after it.
func (w WatchdogCmd) Run() error { return launcher.RunWatchdog(w.Pid, w.Cgroup, w.Pidfd, w.Detach) }

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version: the one scripts/build.sh stamps in (git
// describe), else the commit the Go toolchain recorded, if any.
func (VersionCmd) Run() error {
	v := version
	if v == "dev" {
		v += builtFrom()
	}
	_, err := os.Stdout.WriteString("ningen " + v + "\n")
	return err
}

// builtFrom is " (commit REV)", with ", modified" for a build of a
// changed checkout, or "" when the build recorded no commit.
func builtFrom() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			modified = ", modified"
		}
	}
	if rev == "" {
		return ""
	}
	return " (commit " + rev[:min(12, len(rev))] + modified + ")"
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args and runs the command, returning the exit code. A session
// that ends normally never returns: the kill sequence exits ningen itself.
func run(args []string) int {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("ningen"),
		kong.Description("Session-bound secrets for one command: locked memory in, every holder killed and every secret wiped on the way out."),
		kong.UsageOnError(),
		kong.Exit(func(code int) { os.Exit(code) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		return fail(err)
	}
	ctx, err := parser.Parse(args)
	if err != nil {
		errorf("%s", parseError(err, args))
		if strings.Contains(err.Error(), `expected "<command> ..."`) {
			hintf("give the command after --: ningen run [flags] -- COMMAND [ARGS...]")
		}
		return exitUsage
	}
	return fail(ctx.Run())
}

// plainWord is what a mistyped flag, subcommand or setting looks like
// (lowercase letters and dashes), and a path: shown in a parse error.
// Anything else on the command line may be a value pasted in the wrong
// place, and is not repeated.
var plainWord = regexp.MustCompile(`^(-{0,2}[a-z][a-z-]{0,23}|(\.{0,2}/|~/)[A-Za-z0-9._/-]*)$`)

// unknownShort is kong's word for a cluster of short flags that starts
// with no flag it knows: it names the cluster's first letter.
var unknownShort = regexp.MustCompile(`unknown flag -([^-\s,])`)

// hideShortFlag takes that letter out when it comes from a cluster that is
// no plain word: "-SECRET…" (or "-qSECRET…", after the known -q) is more
// likely a pasted value than mistyped flags, and the letter is the value's.
func hideShortFlag(msg string, args []string) string {
	m := unknownShort.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	for _, a := range args {
		cluster := len(a) >= 4 && a[0] == '-' && a[1] != '-'
		if cluster && strings.Contains(a[1:], m[1]) && !plainWord.MatchString(a) {
			return strings.Replace(msg, m[0], "unknown flag (not shown, in case it is a value)", 1)
		}
	}
	return msg
}

// parseError is kong's message with every argument that is not a plain
// word, or either part around its first '=', taken out: a base64 value
// ends in '=' padding. Kong may quote it changed in
// case (a boolean's value), so the match ignores case. What a failed
// parse of a duration adds goes too: it quotes part of the value ("5sk-…"
// has the unknown unit "sk-…").
func parseError(err error, args []string) string {
	msg := err.Error()
	if i := strings.Index(msg, ": time: "); i >= 0 {
		msg = msg[:i] + " (such as 90s, 15m or 1h30m)"
	}
	msg = hideShortFlag(msg, args)
	for _, a := range args {
		parts := []string{a}
		if k, v, ok := strings.Cut(a, "="); ok {
			parts = append(parts, k, v) // kong names --FLAG of --FLAG=VALUE alone
		}
		for _, p := range parts {
			if len(p) < 4 || plainWord.MatchString(p) {
				continue
			}
			re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(p))
			msg = re.ReplaceAllLiteralString(msg, "(not shown, in case it is a value)")
		}
	}
	return msg
}
