#!/usr/bin/env bash
# Build ningen, statically linked, to OUT (default bin/ningen):
#   ./scripts/build.sh ~/.local/bin/ningen
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_build_deps
out=${1:-bin/ningen}
case $out in /*) ;; *) out="$OLDPWD/$out" ;; esac
mkdir -p "$(dirname "$out")"
build_ningen "$out"
echo "built $out"
