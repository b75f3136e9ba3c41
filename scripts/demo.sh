#!/usr/bin/env bash
# Build ningen and run one real session: a Python agent that receives a
# token over an inherited descriptor and proves it holds it, followed by the
# audit lines of the kill sequence.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_build_deps
command -v python3 >/dev/null || { echo "ningen: the demo needs python3 (apt-get install -y python3)" >&2; exit 1; }

build_ningen bin/ningen
echo "\$ bin/ningen run -s DEMO_TOKEN=file:testdata/demo-token -- python3 testdata/agent.py"
bin/ningen run -s DEMO_TOKEN=file:testdata/demo-token -- python3 testdata/agent.py
