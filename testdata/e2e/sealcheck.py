#!/usr/bin/python3
"""Try to change a secret that ningen delivered with --deliver memfd.

Usage: sealcheck.py NAME

Every way of changing the sealed memfd is tried, and how it failed is
printed as an errno name ("ok" if it worked), then the digest of what the
descriptor holds afterwards, never the value:

  NAME: write=EPERM append=EPERM grow=EPERM shrink=EPERM fallocate=EPERM
        mmap-write=EPERM add-seal=EPERM devfd-write=EPERM size=N sha256=HEX

(on one line).
"""
import errno
import fcntl
import hashlib
import mmap
import os
import sys


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def devfd_write(fd):
    w = os.open("/dev/fd/%d" % fd, os.O_WRONLY)
    try:
        os.write(w, b"x")
    finally:
        os.close(w)


def main():
    name = sys.argv[1]
    fd = int(os.environ["NINGEN_FD_" + name])
    size = os.fstat(fd).st_size
    results = [
        ("write", attempt(lambda: os.pwrite(fd, b"x", 0))),
        ("append", attempt(lambda: os.pwrite(fd, b"x", size))),
        ("grow", attempt(lambda: os.ftruncate(fd, size + 1))),
        ("shrink", attempt(lambda: os.ftruncate(fd, max(size - 1, 0)))),
        ("fallocate", attempt(lambda: os.posix_fallocate(fd, 0, size + 4096))),
        ("mmap-write", attempt(lambda: mmap.mmap(fd, size, flags=mmap.MAP_SHARED,
                                                 prot=mmap.PROT_READ | mmap.PROT_WRITE).close())),
        ("add-seal", attempt(lambda: fcntl.fcntl(fd, fcntl.F_ADD_SEALS, 0))),
        ("devfd-write", attempt(lambda: devfd_write(fd))),
    ]
    after = os.pread(fd, size + 1, 0)
    words = ["%s=%s" % r for r in results]
    words.append("size=%d" % os.fstat(fd).st_size)
    words.append("sha256=" + hashlib.sha256(after).hexdigest())
    print(name + ": " + " ".join(words))


if __name__ == "__main__":
    main()
