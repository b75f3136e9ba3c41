#!/usr/bin/python3
"""reaper.py ARGV...: a child subreaper that runs ARGV and reports, on
stdout, every process it reaps, so a test can see how a process whose
parent died (and which was reparented here) ended:

  started pid=P
  reaped pid=P code=C comm=NAME     or   reaped pid=P signal=S comm=NAME

NAME is the process's comm, read while it is a zombie, before the reap.

It exits once it has no child left.
"""

import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("reaper.py: prctl: errno %d" % ctypes.get_errno())
    pid = os.fork()
    if pid == 0:
        os.execv(sys.argv[1], sys.argv[1:])
    os.write(1, b"started pid=%d\n" % pid)
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return
        try:
            with open("/proc/%d/comm" % info.si_pid, "rb") as f:
                comm = f.read().strip()
        except OSError:
            comm = b"?"
        p, status = os.waitpid(info.si_pid, 0)
        if os.WIFSIGNALED(status):
            end = b"signal=%d" % os.WTERMSIG(status)
        else:
            end = b"code=%d" % os.WEXITSTATUS(status)
        os.write(1, b"reaped pid=%d %s comm=%s\n" % (p, end, comm))


if __name__ == "__main__":
    main()
