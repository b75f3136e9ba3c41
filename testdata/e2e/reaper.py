#!/usr/bin/python3
"""reaper.py ARGV...: a child subreaper that runs ARGV and reports, on
stdout, every process it reaps, so a test can see how a process whose
parent died (and which was reparented here) ended:

  started pid=P
  reaped pid=P code=C      or   reaped pid=P signal=S

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
            p, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        if os.WIFSIGNALED(status):
            os.write(1, b"reaped pid=%d signal=%d\n" % (p, os.WTERMSIG(status)))
        else:
            os.write(1, b"reaped pid=%d code=%d\n" % (p, os.WEXITSTATUS(status)))


if __name__ == "__main__":
    main()
