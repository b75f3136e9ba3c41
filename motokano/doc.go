// Package motokano serves an attached agent the tools its user declared
// (SPEC §7), on a Unix socket that only the session's holders may use.
//
// A tools file declares static tools, whose text is assembled in the
// vault's locked memory and written to the socket from there, and exec
// tools, which a separate `ningen toolrunner` process runs with secrets
// delivered as in §4 and whose stdout comes back with every secret value
// masked. The runner is started before the child, so the supervisor never
// has to exec once its seccomp filter forbids it. The socket lives in a
// fresh 0700 directory named by NINGEN_TOOLS; a connection is served only
// when SO_PEERCRED shows ningen's UID and a pid that is a holder right now.
// The wire is newline-delimited JSON-RPC 2.0 (tools/list, tools/call,
// session/panic); ServeMCP turns it into a Model Context Protocol stdio
// server for `ningen mcp`.
//
// What is not covered: an exec tool's stdout passes through pipe buffers
// and ningen's heap before it is masked, and the agent keeps what it is
// given; neither is part of the wipe.
package motokano
