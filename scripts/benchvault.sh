#!/usr/bin/env bash
# Vault backings and delivery modes, for BENCHMARKS.md (issue 5):
#   1. session start+end, ningen run -q --vault V --deliver D -s ... -- /bin/true,
#      for each backing (locked, secretmem) and delivery mode (fd, memfd,
#      secretmem, env), with 1 and with 1,000 secrets of 64 bytes (one -s
#      and one file each), median of M runs, middle of ROUNDS interleaved
#      rounds, as ratios to locked+fd of the same size in the same run;
#   2. how many 64-byte secrets fit in the default 8 MiB locked-memory
#      limit: extrapolated from the start line's locked= for 1,000 secrets,
#      and measured by loading more until ningen refuses to start under
#      prlimit --memlock=LIMIT_KIB (256 KiB) without CAP_IPC_LOCK (as
#      nobody when run as root), scaled to 8 MiB: the vault locks whole
#      pages, so capacity goes by pages. (8 MiB's worth of -s flags would
#      not fit in ARG_MAX, and kong's parsing grows with the square of the
#      argument count: 16,000 flags take seconds.)
# scripts/bench.sh runs it with its own build; alone it builds ningen:
#   scripts/benchvault.sh    (NINGEN=path BENCHTIME=path M=20 ROUNDS=3 LIMIT_KIB=256)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
M=${M:-20}
ROUNDS=${ROUNDS:-3}
LIMIT_KIB=${LIMIT_KIB:-256}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # nobody runs ningen from here and reads the secrets
if [ -z "${NINGEN:-}" ] || [ -z "${BENCHTIME:-}" ]; then
	need_build_deps
	build_ningen "$work/ningen"
	go build -o "$work/benchtime" ./scripts/benchtime
else
	cp "$NINGEN" "$work/ningen"
	cp "$BENCHTIME" "$work/benchtime"
fi
ng=$work/ningen
chmod 755 "$ng"

# Fake secrets of exactly 64 printable bytes, one file each: 1.5 times as
# many as LIMIT_KIB could hold with no overhead at all.
MAXN=$((LIMIT_KIB * 1024 / 64 * 3 / 2))
((MAXN >= 1000)) || MAXN=1000
mkdir -m 755 "$work/s"
head -c $((48 * MAXN)) /dev/urandom | base64 -w0 | split -b 64 -a 5 -d - "$work/s/"
chmod 644 "$work"/s/*
secret_args() { # secret_args N: -s S0=file:... for N secrets, into the array args
	args=()
	local i
	for ((i = 0; i < $1; i++)); do
		printf -v f '%s/s/%05d' "$work" "$i"
		args+=(-s "S$i=file:$f")
	done
}

# Which backings and modes this kernel can do: secretmem needs memfd_secret.
vaults=(locked secretmem)
modes=(fd memfd secretmem env)
secret_args 1
if ! "$ng" run -q --vault secretmem "${args[@]}" -- /bin/true 2>/dev/null; then
	echo "(no memfd_secret here: the secretmem vault and delivery are left out)" >&2
	vaults=(locked)
	modes=(fd memfd env)
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A med
for round in $(seq "$ROUNDS"); do
	for n in 1 1000; do
		secret_args "$n"
		for v in "${vaults[@]}"; do
			for d in "${modes[@]}"; do
				us=$("$work/benchtime" -n "$M" -- "$ng" run -q --vault "$v" --deliver "$d" "${args[@]}" -- /bin/true | cut -d' ' -f1)
				med[$n,$v,$d]+=" $us"
			done
		done
	done
done
mid() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "## Vault backings and delivery modes: session start (median of $M runs, middle of $ROUNDS interleaved rounds)"
echo
echo "ningen run -q --vault V --deliver D -s ... -- /bin/true, secrets of 64 bytes from files, one -s each;"
echo "ratio is to --vault locked --deliver fd with as many secrets, in the same run."
echo
echo "| vault | delivery | 1 secret, µs | ratio | 1,000 secrets, µs | ratio |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
base1=$(mid "${med[1,locked,fd]}")
base1000=$(mid "${med[1000,locked,fd]}")
for v in "${vaults[@]}"; do
	for d in "${modes[@]}"; do
		awk -v v="$v" -v d="$d" -v a="$(mid "${med[1,$v,$d]}")" -v b="$(mid "${med[1000,$v,$d]}")" \
			-v a0="$base1" -v b0="$base1000" \
			'BEGIN { printf "| %s | %s | %d | %.2f | %d | %.2f |\n", v, d, a, a / a0, b, b / b0 }'
	done
done

# --- how many 64-byte secrets fit in 8 MiB of locked memory ---------------
secret_args 1000
locked1000=$("$ng" run --vault locked "${args[@]}" -- /bin/true 2>&1 | sed -n 's/.*event=start.* locked=\([0-9]*\).*/\1/p')

# fits V N LIMIT: does ningen load N secrets under a locked-memory limit of
# LIMIT bytes, without CAP_IPC_LOCK? The command does not exist, so ningen
# stops right after loading (127) and no delivery needs a descriptor: what
# runs out is locked memory, and nothing else (a refusal says "lock").
if [ "$(id -u)" = 0 ]; then
	as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	who=nobody
else
	as_user=()
	who=$(id -un)
fi
fits() {
	secret_args "$2"
	local rc=0
	prlimit --memlock="$3:$3" "${as_user[@]}" "$ng" run -q --vault "$1" "${args[@]}" -- /nonexistent/ningen-bench 2>"$work/err" || rc=$?
	case $rc in
	127) return 0 ;;
	125) grep -q 'lock [0-9]* bytes of secret memory' "$work/err" && return 1 ;;
	esac
	echo "benchvault: $2 secrets, --vault $1: exit $rc, not a locked-memory refusal:" >&2
	cat "$work/err" >&2
	exit 1
}
# most V LIMIT: the largest N that starts, by bisection over [0, MAXN].
most() {
	local lo=0 hi=$MAXN try
	if fits "$1" "$hi" "$2"; then echo ">$hi"; return; fi
	while ((hi - lo > 1)); do
		try=$(((lo + hi) / 2))
		if fits "$1" "$try" "$2"; then lo=$try; else hi=$try; fi
	done
	echo "$lo"
}
limit=$((LIMIT_KIB * 1024))
scale=$((8192 / LIMIT_KIB))
declare -A most1 most8
for v in "${vaults[@]}"; do
	m=$(most "$v" "$limit")
	case $m in
	\>*) most8[$v]="more than $((${m#>} * scale))" ;;
	*) most8[$v]=$((m * scale)) ;;
	esac
	most1[$v]=$m
done

page=$(getconf PAGESIZE)
echo
echo "## 64-byte secrets in the default 8 MiB locked-memory limit"
echo
echo "| measure | secrets in 8 MiB |"
echo "| --- | ---: |"
awk -v l="$locked1000" 'BEGIN { printf "| extrapolated: 1,000 secrets lock %d bytes (start line locked=), %.1f bytes each | %d |\n", l, l / 1000, int(8388608 / (l / 1000)) }'
for v in "${vaults[@]}"; do
	echo "| measured: --vault $v loads at most ${most1[$v]} under prlimit --memlock=${LIMIT_KIB}KiB ($who, no CAP_IPC_LOCK), x$scale | ${most8[$v]} |"
done
echo "| a library that locks one page ($page bytes) per secret | $((8388608 / page)) |"
echo
echo "machine: $(nproc) cores, $(uname -sr), $(go version 2>/dev/null | cut -d' ' -f3);" \
	"load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after (timings on a loaded host are noise)"
