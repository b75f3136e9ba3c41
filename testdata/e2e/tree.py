#!/usr/bin/python3
"""Trees of holders that try to outlive ningen's kill sequence, for
e2e_tree_test.go.

Like child.py, every line on stdout is one os.write, and the marker only
sits in argv (every process here is a fork of this one, so its argv holds
the marker too) so that the tests find the processes in /proc/*/cmdline.

Modes:
  detach MARKER N THEN
      Leave ningen's session (setsid; from a fork when the child leads a
      process group, the child then waits for that fork), then double-fork
      N grandchildren, each in a session of its own, ignoring SIGTERM.
      Print "ready n=N sessions=S pids=P,P,..." once every grandchild
      runs (S: how many sessions they are in, the child's not counted), then
      exit 0 if THEN is "exit", else wait for ever.
  forker MARKER BUDGET
      Keep forking: every process forks children as fast as it can, each
      child forks in turn, every second one in a session of its own, all
      ignoring SIGTERM, until BUDGET processes exist in all (a pipe of
      BUDGET-1 tokens bounds it); then each one sleeps. The one that takes
      token 200 (or the last, if fewer) prints "grown n=200".
  ptrace MARKER
      Start three holders: one stopped with SIGSTOP, one traced by another
      holder (the tracer, which attaches with PTRACE_ATTACH and resumes it
      after every stop, swallowing the signal, strace-like) and one traced
      and left in its ptrace stop. Print "ready stopped=P traced=P tracer=P
      held=P holder=P" once all are in place, then wait for ever. Nobody
      here minds SIGTERM.
"""

import ctypes
import os
import signal
import sys

PTRACE_CONT = 7
PTRACE_ATTACH = 16
WALL = 0x40000000  # __WALL


def say(line):
    os.write(1, (line + "\n").encode())


def forever():
    while True:
        signal.pause()


def ignore_term():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def own_session():
    """setsid; a process group leader cannot, so it forks first and the
    original waits for the fork and exits as it does."""
    try:
        os.setsid()
        return
    except PermissionError:
        pass
    pid = os.fork()
    if pid == 0:
        os.setsid()
        return
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def detach(n, then):
    own_session()
    r, w = os.pipe()
    for _ in range(n):
        mid = os.fork()
        if mid == 0:
            os.close(r)
            os.setsid()
            if os.fork() == 0:
                os.setsid()  # not a group leader: a session of its own
                ignore_term()
                os.write(w, b"%d:%d\n" % (os.getpid(), os.getsid(0)))
                os.close(w)
                forever()
            os._exit(0)
        os.waitpid(mid, 0)
    os.close(w)
    data = b""
    while data.count(b"\n") < n:
        chunk = os.read(r, 4096)
        if not chunk:
            sys.exit("tree.py: a grandchild died before it was ready")
        data += chunk
    pairs = [p.decode().split(":") for p in data.split()]
    sessions = {sid for _, sid in pairs} - {str(os.getsid(0))}
    say("ready n=%d sessions=%d pids=%s"
        % (len(pairs), len(sessions), ",".join(pid for pid, _ in pairs)))
    if then == "exit":
        os._exit(0)
    forever()


def forker(budget):
    r, w = os.pipe()
    for tok in range(1, budget):
        os.write(w, tok.to_bytes(2, "big"))
    os.close(w)
    os.set_blocking(r, False)
    grown = min(200, budget - 1)
    ignore_term()
    while True:
        try:
            b = os.read(r, 2)
        except BlockingIOError:
            b = b""
        if len(b) < 2:
            break
        tok = int.from_bytes(b, "big")
        if os.fork() == 0:
            if tok % 2:
                os.setsid()
            if tok == grown:
                say("grown n=%d" % tok)
    os.close(r)
    forever()


def ptrace_mode():
    ignore_term()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

    def ptrace(req, pid, data=0):
        if libc.ptrace(req, pid, None, ctypes.c_void_p(data)) != 0:
            sys.exit("tree.py: ptrace(%d, %d): errno %d" % (req, pid, ctypes.get_errno()))

    def sleeper():
        pid = os.fork()
        if pid == 0:
            forever()
        return pid

    stopped = sleeper()
    os.kill(stopped, signal.SIGSTOP)
    os.waitpid(stopped, os.WUNTRACED)
    traced = sleeper()
    held = sleeper()
    r, w = os.pipe()
    tracer = os.fork()
    if tracer == 0:
        os.close(r)
        for pid in (traced, held):
            ptrace(PTRACE_ATTACH, pid)
            os.waitpid(pid, WALL)  # its attach stop
        ptrace(PTRACE_CONT, traced)
        os.write(w, b"attached\n")
        os.close(w)
        while True:  # resume the traced one after every stop, signal swallowed
            try:
                pid, status = os.waitpid(traced, WALL)
            except ChildProcessError:
                forever()
            if os.WIFSTOPPED(status):
                ptrace(PTRACE_CONT, pid)
    os.close(w)
    if os.read(r, 64) != b"attached\n":
        sys.exit("tree.py: the tracer failed")
    say("ready stopped=%d traced=%d tracer=%d held=%d holder=%d"
        % (stopped, traced, tracer, held, os.getpid()))
    forever()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "detach":
        detach(int(args[1]), args[2])
    elif mode == "forker":
        forker(int(args[1]))
    elif mode == "ptrace":
        ptrace_mode()
    else:
        sys.exit("tree.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
