#!/usr/bin/env python3
"""A stand-in for an AI agent run under ningen.

It reads its token from the descriptor ningen names in NINGEN_FD_<NAME>,
proves it holds it (length and SHA-256) without printing it, checks that the
token is in neither its environment nor its command line, and exits.
"""
import hashlib
import os
import sys

NAME = sys.argv[1] if len(sys.argv) > 1 else "DEMO_TOKEN"


def read_secret(name):
    fd = int(os.environ["NINGEN_FD_" + name])
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def main():
    token = read_secret(NAME)
    with open("/proc/self/environ", "rb") as f:
        in_env = token in f.read()
    with open("/proc/self/cmdline", "rb") as f:
        in_argv = token in f.read()
    print(f"agent: pid {os.getpid()} holds {NAME}: {len(token)} bytes, "
          f"sha256 {hashlib.sha256(token).hexdigest()[:16]}...")
    print(f"agent: in my environment: {in_env}; on my command line: {in_argv}")
    if in_env or in_argv:
        return 1
    print("agent: working... done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
