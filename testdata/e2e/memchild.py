#!/usr/bin/python3
"""The child of the memory tests (e2e_memory_test.go).

Usage: memchild.py CTL [MARKER]

It prints "ready pid=P", then obeys commands read line by line from CTL, a
FIFO the test holds open, so that it sits blocked in read(2) on CTL, having
touched none of its deliveries, for as long as the test scans memory:

  read      read every descriptor named by NINGEN_FD_* to its end and keep
            the values in memory; print "read n=N" (N values), never a value
  fds       print "fds 0,1,2,..." with the descriptors it has open
  exit N    exit with status N

Every line is written with one os.write. The marker only sits in argv, so
that the test can find the process in /proc/*/cmdline.
"""

import os
import sys

kept = []


def say(line):
    os.write(1, (line + "\n").encode())


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def open_fds(ctl):
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd == ctl:
            continue
        try:
            os.fstat(fd)  # the descriptor listdir used is closed by now
        except OSError:
            continue
        fds.append(fd)
    return sorted(fds)


def main():
    ctl = os.open(sys.argv[1], os.O_RDONLY)
    say("ready pid=%d" % os.getpid())
    buf = b""
    while True:
        b = os.read(ctl, 4096)
        if not b:
            return 0
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            word, _, rest = line.decode().strip().partition(" ")
            if word == "read":
                for key, val in os.environ.items():
                    if key.startswith("NINGEN_FD_"):
                        kept.append(read_all(int(val)))
                say("read n=%d" % len(kept))
            elif word == "fds":
                say("fds " + ",".join(str(fd) for fd in open_fds(ctl)))
            elif word == "exit":
                os._exit(int(rest))


if __name__ == "__main__":
    sys.exit(main())
