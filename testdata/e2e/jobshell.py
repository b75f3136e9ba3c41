#!/usr/bin/python3
"""jobshell.py: a minimal job-control shell for the pty tests.

It runs as the session leader with the pty as its controlling terminal and
standard streams. It reads commands from descriptor 3 and reports on
descriptor 4, one line each:

  fg ARG...     start ARGV as a foreground job (own group, given the terminal)
  bg ARG...     start ARGV as a background job (own group, terminal kept)
  cont          like fg: give the job the terminal, then SIGCONT its group
  bgcont        like bg: SIGCONT the job's group, terminal kept
  tostop        set TOSTOP on the terminal

Reports:
  shell pgrp=G                          at start
  started pid=P
  stopped pid=P sig=N fg=F              the job stopped; F was the terminal's
                                        foreground group at that moment
  exited pid=P code=C|signal=S fg=F lflag=L iflag=I oflag=O
                                        the job ended; F and the termios flags
                                        are read before the shell takes the
                                        terminal back
  continued pid=P

Arguments are separated by the byte 0x1f so they may hold spaces.
"""

import os
import signal
import sys
import termios
import threading

ctl_in = os.fdopen(3, "r")
REPORT = 4
lock = threading.Lock()
job = {"pid": 0}


def report(line):
    os.write(REPORT, (line + "\n").encode())


def take_terminal():
    os.tcsetpgrp(0, os.getpgrp())


def start(argv, foreground):
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        if foreground:
            os.tcsetpgrp(0, os.getpid())
        for s in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP):
            signal.signal(s, signal.SIG_DFL)
        os.closerange(3, 5)
        os.execv(argv[0], argv)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already did, or already exec'd
    if foreground:
        try:
            os.tcsetpgrp(0, pid)
        except OSError:
            pass
    with lock:
        job["pid"] = pid
    report("started pid=%d" % pid)
    return pid


def waiter():
    while True:
        with lock:
            pid = job["pid"]
        if not pid:
            return
        try:
            p, status = os.waitpid(pid, os.WUNTRACED)
        except ChildProcessError:
            return
        fg = os.tcgetpgrp(0)
        if os.WIFSTOPPED(status):
            take_terminal()
            report("stopped pid=%d sig=%d fg=%d" % (p, os.WSTOPSIG(status), fg))
            continue
        attrs = termios.tcgetattr(0)
        how = ("signal=%d" % os.WTERMSIG(status)) if os.WIFSIGNALED(status) \
            else ("code=%d" % os.WEXITSTATUS(status))
        take_terminal()
        report("exited pid=%d %s fg=%d lflag=%d iflag=%d oflag=%d"
               % (p, how, fg, attrs[3], attrs[0], attrs[1]))
        return


def main():
    for s in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP):
        signal.signal(s, signal.SIG_IGN)
    report("shell pgrp=%d" % os.getpgrp())
    waiting = None
    for line in ctl_in:
        word, _, rest = line.rstrip("\n").partition(" ")
        if word in ("fg", "bg"):
            start(rest.split("\x1f"), word == "fg")
            waiting = threading.Thread(target=waiter, daemon=True)
            waiting.start()
        elif word == "cont":
            pid = job["pid"]
            os.tcsetpgrp(0, pid)
            os.killpg(pid, signal.SIGCONT)
            report("continued pid=%d" % pid)
        elif word == "bgcont":
            pid = job["pid"]
            os.killpg(pid, signal.SIGCONT)
            report("continued pid=%d" % pid)
        elif word == "tostop":
            attrs = termios.tcgetattr(0)
            attrs[3] |= termios.TOSTOP
            termios.tcsetattr(0, termios.TCSANOW, attrs)
            report("tostop")
    if waiting is not None:
        waiting.join()


if __name__ == "__main__":
    sys.exit(main())
