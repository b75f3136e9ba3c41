#!/usr/bin/env python3
"""Read a secret that ningen delivered with --deliver secretmem.

The descriptor is a memfd_secret: its pages are outside the kernel's direct
map, so read(2) fails on it and the only way in is mmap. Prints the length
and a SHA-256 prefix, never the value. Usage: read_secretmem.py NAME
"""
import hashlib
import mmap
import os
import sys

name = sys.argv[1]
fd = int(os.environ["NINGEN_FD_" + name])
size = os.fstat(fd).st_size
with mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ) as m:
    digest = hashlib.sha256(m).hexdigest()
try:
    os.read(fd, 1)
    read_ok = "succeeded (unexpected)"
except OSError as e:
    read_ok = "fails: " + os.strerror(e.errno)
print(f"{name}: {size} bytes, sha256 {digest}; read(2) {read_ok}")
