#!/usr/bin/env python3
"""Read a secret that ningen delivered with --deliver memfd, twice.

The descriptor is a sealed memfd: readable as often as you like (also as
/dev/fd/N), never writable. Prints the length, a SHA-256 prefix and the
seals, never the value. Usage: read_memfd.py NAME
"""
import fcntl
import hashlib
import os
import sys

name = sys.argv[1]
fd = int(os.environ["NINGEN_FD_" + name])
first = os.pread(fd, os.fstat(fd).st_size, 0)
with open(f"/dev/fd/{fd}", "rb") as f:
    second = f.read()
seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
names = [n for n, bit in (("seal", 1), ("shrink", 2), ("grow", 4), ("write", 8)) if seals & bit]
print(f"{name}: {len(first)} bytes, sha256 {hashlib.sha256(first).hexdigest()}, "
      f"same on re-read: {first == second}, seals: {','.join(names)}")
