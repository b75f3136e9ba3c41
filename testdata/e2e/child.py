#!/usr/bin/python3
"""The child the end-to-end tests run under ningen.

Every mode talks to the test on stdout, one line per event, written with a
single os.write so lines from several processes never interleave:

  ready pid=P pgid=G sid=S role=R   once it is set up
  sig NAME pid=P                    for each trapped signal, as it is taken
  ...                               mode-specific lines

Modes:
  dump OUTDIR
      Read every descriptor named by NINGEN_FD_* to its end and write it to
      OUTDIR/fd.NAME; write OUTDIR/env.NAME for every NINGEN_ENV_NAMES entry
      found in the environment; copy /proc/self/environ, /proc/self/cmdline,
      the output of printenv and the list of open descriptors; print "done".
      "dump OUTDIR agent ARGS..." goes on as agent once done.
  agent [--trap SIG,SIG] [--marker M] [--no-stdin]
      Trap the listed signals (counting them on stdout), print ready, then
      obey commands read line by line from stdin until EOF, then wait for
      signals for ever. Commands:
        exit N        exit with status N
        spawn         fork a process in the same group with the same traps
        doublefork M  fork, setsid, fork again: the grandchild runs
                      "sleeper --marker M" and prints its own ready line
        stty-raw      put the terminal on stdin in raw mode, no echo
        fg            print "fg pgrp=F own=G" for the terminal on stdin
        say TEXT      print TEXT
  sleeper [--marker M]
      Print ready, then wait for signals for ever.

The marker only sits in argv, so that the tests can find the process by
scanning /proc/*/cmdline.
"""

import os
import signal
import subprocess
import sys
import threading


def say(line):
    os.write(1, (line + "\n").encode())


def ready(role):
    say("ready pid=%d pgid=%d sid=%d role=%s"
        % (os.getpid(), os.getpgrp(), os.getsid(0), role))


def trap(names):
    """Report the named signals instead of acting on them.

    They are blocked and taken by a thread with sigwaitinfo, not by Python
    handlers: a handler only runs between bytecodes, so a signal that lands
    just before the main thread blocks in read() would wait for the next
    one, and a test would see it late or merged with the next.
    """
    sigs = {getattr(signal, n) for n in names}
    if not sigs:
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)

    def report():
        while True:
            info = signal.sigwaitinfo(sigs)
            say("sig %s pid=%d" % (signal.Signals(info.si_signo).name, os.getpid()))
    threading.Thread(target=report, daemon=True).start()


def unblock_all():
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def forever():
    while True:
        signal.pause()


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def open_fds():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            os.fstat(fd)  # the descriptor listdir itself used is gone now
        except OSError:
            continue
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            target = "?"
        fds.append("%d %s" % (fd, target))
    return sorted(fds, key=lambda s: int(s.split()[0]))


def dump(outdir):
    def put(name, data):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)

    # List descriptors before reading closes nothing: the list is what the
    # child inherited.
    put("fds", ("\n".join(open_fds()) + "\n").encode())
    for key, val in os.environ.items():
        if key.startswith("NINGEN_FD_"):
            put("fd." + key[len("NINGEN_FD_"):], read_all(int(val)))
    for name in os.environ.get("NINGEN_ENV_NAMES", "").split(","):
        if name and name in os.environ:
            put("env." + name, os.environb[name.encode()])
    with open("/proc/self/environ", "rb") as f:
        put("environ", f.read())
    with open("/proc/self/cmdline", "rb") as f:
        put("cmdline", f.read())
    put("printenv", subprocess.run(["printenv"], stdout=subprocess.PIPE,
                                   check=False).stdout)
    put("argv", "\0".join(sys.argv).encode())
    say("done")


def doublefork(marker):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            unblock_all()  # the grandchild traps nothing
            os.execv(sys.executable, [sys.executable, os.path.abspath(__file__),
                                      "sleeper", "--marker", marker])
        os._exit(0)
    os.waitpid(pid, 0)


def spawn(names):
    if os.fork() == 0:
        trap(names)
        ready("sub")
        forever()


def command(line, names):
    word, _, rest = line.strip().partition(" ")
    if word == "exit":
        os._exit(int(rest))
    elif word == "spawn":
        spawn(names)
    elif word == "doublefork":
        doublefork(rest)
    elif word == "stty-raw":
        subprocess.run(["stty", "raw", "-echo"], check=True)
        say("raw")
    elif word == "fg":
        say("fg pgrp=%d own=%d" % (os.tcgetpgrp(0), os.getpgrp()))
    elif word == "say":
        say(rest)


def agent(args):
    names, use_stdin = [], True
    while args:
        a = args.pop(0)
        if a == "--trap":
            names = ["SIG" + n if not n.startswith("SIG") else n
                     for n in args.pop(0).split(",") if n]
        elif a == "--marker":
            args.pop(0)
        elif a == "--no-stdin":
            use_stdin = False
    trap(names)
    ready("child")
    if use_stdin:
        while True:
            try:
                line = sys.stdin.readline()
            except OSError:
                break
            if not line:
                break
            command(line, names)
    forever()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "dump":
        dump(args[0])
        if args[1:2] == ["agent"]:
            agent(args[2:])
    elif mode == "agent":
        agent(args)
    elif mode == "sleeper":
        ready("sleeper")
        forever()
    else:
        sys.exit("child.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
