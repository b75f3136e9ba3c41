#!/usr/bin/env bash
# Benchmarks for BENCHMARKS.md, all measured in one run so that ratios
# compare like with like on a shared, noisy machine.
#   1. session start+end: ningen run -s K=file:F -- /bin/true, against
#      /bin/true alone and against Debian's tini -s -- /bin/true
#      (median of N runs each, interleaved in rounds);
#   2. the vault's wipe (zero + read-back) against plain clear(), in MB/s.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_build_deps
if ! command -v tini >/dev/null; then
	if [ "$(id -u)" = 0 ]; then apt-get install -y -qq tini >/dev/null; else
		echo "bench: tini is missing: apt-get install -y tini" >&2; exit 1; fi
fi
N=${N:-30}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
build_ningen "$dir/ningen"
go build -o "$dir/benchtime" ./scripts/benchtime
# Floors: a Go program that does nothing but run /bin/true and wait for it,
# and the same linking libseccomp through cgo, built statically as ningen
# is: no wrapper written that way can add less.
go build -o "$dir/gostart" ./scripts/floor
build_static "$dir/cgostart" ./scripts/floor linkseccomp
head -c 32 /dev/urandom | base64 > "$dir/secret"

median() { "$dir/benchtime" -n "$N" -- "$@" | cut -d' ' -f1; }
# What each part adds, run in the same rounds: ningen's own start-up
# (`version`: exec, Go runtime, package inits, the CLI), then sessions with
# less and less switched off. --track cgroup needs root; as another user
# auto is subreaper mode and the cgroup row repeats it.
run() { median "$dir/ningen" run -q "$@" -s "K=file:$dir/secret" -- /bin/true; }
declare -A sum
# Interleave three rounds so a burst of load hits every row alike.
for round in 1 2 3; do
	sum[true]+=" $(median /bin/true)"
	sum[tini]+=" $(median tini -s -- /bin/true)"
	sum[ningen]+=" $(run)"
	sum[gostart]+=" $(median "$dir/gostart" /bin/true)"
	sum[cgostart]+=" $(median "$dir/cgostart" /bin/true)"
	sum[version]+=" $(median "$dir/ningen" version)"
	sum[bare]+=" $(run --track subreaper --seccomp off)"
	sum[seccomp]+=" $(run --track subreaper)"
done
mid() { tr ' ' '\n' <<<"$1" | grep . | sort -n | sed -n 2p; }
t=$(mid "${sum[true]}"); i=$(mid "${sum[tini]}"); n=$(mid "${sum[ningen]}")

echo "## Session overhead (median of $N runs, middle of 3 interleaved rounds)"
echo
echo "| command | median µs | added over /bin/true µs | ratio to tini's added |"
echo "| --- | ---: | ---: | ---: |"
awk -v t="$t" -v i="$i" -v n="$n" 'BEGIN {
	printf "| /bin/true | %d | 0 | |\n", t
	printf "| tini -s -- /bin/true | %d | %d | 1.00 |\n", i, i - t
	r = (i - t) > 0 ? (n - t) / (i - t) : 0
	printf "| ningen run -s K=file:F -- /bin/true | %d | %d | %.2f |\n", n, n - t, r
}'
echo
echo "Where it goes (same rounds; from the third row on each adds to the one above; tini's added"
echo "time includes its own start and one fork and exec of /bin/true, as the floors do):"
echo
echo "| command | median µs | added over /bin/true µs | added / tini's added |"
echo "| --- | ---: | ---: | ---: |"
for row in "gostart:a Go program that only runs /bin/true (floor)" \
	"cgostart:the same, linking libseccomp, static like ningen (floor)" \
	"version:ningen version (start-up only)" \
	"bare:ningen run -q --track subreaper --seccomp off ..." \
	"seccomp:ningen run -q --track subreaper ..." \
	"ningen:ningen run -q ... (auto: cgroup as root)"; do
	v=$(mid "${sum[${row%%:*}]}")
	awk -v v="$v" -v t="$t" -v i="$i" -v name="${row#*:}" 'BEGIN {
		r = (i - t) > 0 ? (v - t) / (i - t) : 0
		printf "| %s | %d | %d | %.2f |\n", name, v, v - t, r }'
done
echo
echo "## Wipe speed (go test -bench, 1 MiB)"
echo
go test -run '^$' -bench 'BenchmarkWipe$|BenchmarkClear$' -benchtime 2s ./vault/ | tee "$dir/wipe.txt" | grep -E '^Benchmark' | sed 's/^/    /'
awk '/^BenchmarkWipe/ {w=$(NF-1)} /^BenchmarkClear/ {c=$(NF-1)}
	END { if (c > 0) printf "\nwipe / clear() = %.2f (target: at least 0.50)\n", w / c }' "$dir/wipe.txt"
echo
echo "machine: $(nproc) cores, $(uname -sr), $(go version | cut -d' ' -f3)"

# --- vault backings and delivery modes (issue 5) -----------------------------
# Session start with each vault backing (locked, secretmem) and delivery
# mode (fd, memfd, secretmem, env) for 1 and 1,000 secrets of 64 bytes, as
# ratios to locked+fd, and how many 64-byte secrets fit in the default
# 8 MiB locked-memory limit: scripts/benchvault.sh, with the ningen and
# benchtime built above (M runs a median, default 20; ROUNDS, default 3).
echo
NINGEN="$dir/ningen" BENCHTIME="$dir/benchtime" scripts/benchvault.sh
# --- end of vault backings and delivery modes --------------------------------

# --- kill latency (issue 4) ---------------------------------------------------
# From the trigger to the last holder reaped, for trees of 10, 100 and 1,000
# sleepers (half of them setsid'd): ningen in both tracking modes with
# --grace 0, Debian's tini -g, and the floor, a bare cgroup.kill of the same
# tree waited on until "populated 0": scripts/killbench, with the ningen built
# above (the cgroup rows need root). KILL_RUNS runs of each (default 7),
# interleaved; medians; KILL_SIZES (default 10,100,1000).
echo
go build -o "$dir/killbench" ./scripts/killbench
"$dir/killbench" -ningen "$dir/ningen" -runs "${KILL_RUNS:-7}" -sizes "${KILL_SIZES:-10,100,1000}"
echo
echo "machine: $(nproc) cores, $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg) after (timings on a loaded host are noise)"
# --- end of kill latency -------------------------------------------------------
