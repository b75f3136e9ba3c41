#!/usr/bin/env bash
# ningen on arm64 under the live seccomp filter (SPEC §2 G4, §6), without
# arm64 hardware: cross-build a static ningen and a static hardening test
# binary, boot Debian's arm64 kernel under qemu-system-aarch64 with a
# busybox initramfs, and run real sessions there (every trigger, forwarding,
# a 1 MiB secret, a signal storm) plus forbidden calls that must die of
# SIGSYS and the live-versus-simulation matrix of hardening's tests.
#
# Prints one PASS or FAIL line per check and exits non-zero on any FAIL.
# Installs what it needs when run as root (Debian: qemu-system-arm,
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, libseccomp-dev:arm64, cpio;
# the kernel and busybox-static:arm64 are fetched with apt-get download).
# Without root and without those, it prints SKIPPED and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_build_deps

cache=${NINGEN_ARM64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ningen-arm64}
timeout_s=${NINGEN_ARM64_TIMEOUT:-600}
pkgs="qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross libseccomp-dev:arm64 cpio"

have_tools() {
	command -v qemu-system-aarch64 >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null &&
		[ -f /usr/lib/aarch64-linux-gnu/libseccomp.a ] && [ -f /usr/aarch64-linux-gnu/lib/libc.a ] &&
		command -v cpio >/dev/null
}

if ! have_tools; then
	if [ "$(id -u)" != 0 ]; then
		echo "arm64-live: SKIPPED: not root, and the cross tools are missing; as root run:"
		echo "  dpkg --add-architecture arm64 && apt-get update && apt-get install -y $pkgs"
		exit 0
	fi
	echo "arm64-live: installing $pkgs" >&2
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
fi

# The kernel and busybox, once, from Debian's arm64 archive.
fetch() {
	mkdir -p "$cache" 2>/dev/null || cache=$(mktemp -d /tmp/ningen-arm64-cache.XXXXXX)
	if [ ! -f "$cache/vmlinuz" ]; then
		dpkg --print-foreign-architectures | grep -qx arm64 || {
			echo "arm64-live: FAIL: dpkg has no arm64 architecture (dpkg --add-architecture arm64; apt-get update)"
			exit 1
		}
		local dep
		dep=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-/{print $2; exit}')
		dep=${dep%:arm64}
		[ -n "$dep" ] || { echo "arm64-live: FAIL: apt-cache knows no linux-image-arm64:arm64 (apt-get update?)"; exit 1; }
		(cd "$cache" && rm -f linux-image-*.deb &&
			{ apt-get download -q "${dep}-unsigned:arm64" 2>/dev/null || apt-get download -q "$dep:arm64"; }) >&2 || {
			echo "arm64-live: FAIL: apt-get download of ${dep}-unsigned:arm64 and $dep:arm64 failed"
			exit 1
		}
		rm -rf "$cache/k" && dpkg-deb -x "$cache"/linux-image-*.deb "$cache/k"
		cp "$cache"/k/boot/vmlinuz-* "$cache/vmlinuz"
		rm -rf "$cache/k" "$cache"/linux-image-*.deb
	fi
	if [ ! -f "$cache/busybox" ]; then
		(cd "$cache" && rm -f busybox-static*.deb && apt-get download -q busybox-static:arm64) >&2 || {
			echo "arm64-live: FAIL: apt-get download busybox-static:arm64 failed"
			exit 1
		}
		rm -rf "$cache/bb" && dpkg-deb -x "$cache"/busybox-static*.deb "$cache/bb"
		cp "$cache/bb/bin/busybox" "$cache/busybox"
		rm -rf "$cache/bb" "$cache"/busybox-static*.deb
	fi
}
fetch

work=$(mktemp -d /tmp/ningen-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp}

# Static cgo binaries: glibc and libseccomp linked in, as a user would ship.
export CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc
export PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
static=(-ldflags '-linkmode external -extldflags -static')
go build "${static[@]}" -o "$root/ningen" . 2>"$work/build.log" || { cat "$work/build.log"; echo "arm64-live: FAIL: cross-build of ningen"; exit 1; }
go test -c "${static[@]}" -o "$root/hardening.test" ./hardening/ 2>>"$work/build.log" || { cat "$work/build.log"; echo "arm64-live: FAIL: cross-build of the hardening tests"; exit 1; }
unset CGO_ENABLED GOOS GOARCH CC PKG_CONFIG_LIBDIR
cp "$cache/busybox" "$root/bin/busybox"
head -c 1048576 /dev/zero | tr '\0' 'k' >"$root/big"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ln -sf /proc/self/fd /dev/fd
mount -t tmpfs tmp /tmp
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
echo "arm64-live: kernel $(uname -r) $(uname -m)"

check() { # name got want
	if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: got $2, want $3"; fi
}

# session NAME WANT ARGS...: ningen's exit status must be WANT.
session() {
	name=$1 want=$2; shift 2
	GOGC=1 /ningen run "$@" 2>/tmp/err </dev/null >/tmp/out
	got=$?
	check "$name" "$got" "$want"
	[ "$got" = "$want" ] || sed 's/^/  | /' /tmp/err /tmp/out | head -20
	grep -q 'event=seccomp mode=kill loaded=true' /tmp/err || echo "FAIL $name: no filter loaded: $(cat /tmp/err)"
}

# confined PID CHILD: every thread of ningen under one filter, the child under none.
confined() {
	bad=0
	for s in /proc/$1/task/*/status; do
		grep -q '^Seccomp:[[:space:]]*2$' "$s" && grep -q '^Seccomp_filters:[[:space:]]*1$' "$s" || bad=$((bad + 1))
	done
	grep -q '^Seccomp:[[:space:]]*0$' /proc/$2/status || bad=$((bad + 100))
	echo "$bad"
}

# signalled SIG WANT: a session ended by SIG after it reports its start.
signalled() {
	mkfifo /tmp/f.$1
	GOGC=1 /ningen run -- sleep 60 2>/tmp/f.$1 </dev/null &
	p=$!
	exec 3</tmp/f.$1
	child=
	while read -r line <&3; do
		case $line in *event=start*) child=${line#*child=}; child=${child%% *}; break ;; esac
	done
	check "SIG$1: every ningen thread Seccomp 2, child none" "$(confined $p $child)" 0
	kill -$1 $p
	cat <&3 >/dev/null
	wait $p
	check "SIG$1 ends the session" "$?" "$2"
	exec 3<&-
}

session "child exit passes the code" 3 -- sh -c 'exit 3'
session "--ttl ends the session" 124 --ttl 300ms -- sleep 60
signalled TERM 143
signalled HUP 129
session "1 MiB secret delivered" 7 --max-secret-size 2MiB -s K=file:/big -- \
	sh -c 'n=$(wc -c </dev/fd/$NINGEN_FD_K); echo "read $n bytes"; [ "$n" -eq 1048576 ] && exit 7; exit 1'
export GOMAXPROCS=8
session "SIGUSR1 storm forwarded, GOGC=1 GOMAXPROCS=8" 0 -- \
	sh -c 'trap : USR1; i=0; while [ $i -lt 300 ]; do kill -USR1 $PPID; i=$((i+1)); done'
unset GOMAXPROCS
session "forwarded SIGUSR1 and SIGWINCH reach the child" 5 -- sh -c '
	u=0 w=0
	trap "u=\$((u+1))" USR1
	trap "w=\$((w+1))" WINCH
	kill -USR1 $PPID; kill -WINCH $PPID
	while [ $u -lt 1 ] || [ $w -lt 1 ]; do sleep 1 & wait $!; done
	exit 5'

# Parent death: the shell between init and ningen is killed.
mkfifo /tmp/f.pd
sh -c '/ningen run -- sleep 60 2>/tmp/f.pd </dev/null & wait' &
sh_pid=$!
exec 3</tmp/f.pd
while read -r line <&3; do case $line in *event=start*) break ;; esac; done
kill -9 $sh_pid
exitline=$(grep 'event=exit' <&3)
case $exitline in
*trigger=parent-died*code=129*) echo "PASS parent death ends the session (exit 129)" ;;
*) echo "FAIL parent death: exit line '$exitline'" ;;
esac
exec 3<&-

n=0
for i in $(seq 1 25); do
	GOGC=1 /ningen run -q --ttl 20ms -- sleep 10 </dev/null >/dev/null 2>&1
	[ $? = 124 ] && n=$((n + 1))
done
check "25 sessions with --ttl 20ms end in 124" "$n" 25

# Forbidden calls, in a process that loads the same policy (hardening's test
# helper, not a hook in ningen): each must die of SIGSYS (128+31).
for call in ptrace execve socket "openat create" "clone without CLONE_THREAD (fork)"; do
	NINGEN_SECCOMP_HELPER="$call" NINGEN_SECCOMP_DIR=/tmp /hardening.test -test.run '^TestSeccompHelper$' >/dev/null 2>&1
	check "forbidden $call dies of SIGSYS" "$?" 159
done
NINGEN_SECCOMP_HELPER=getpid /hardening.test -test.run '^TestSeccompHelper$' >/dev/null 2>&1
check "allowed getpid under the filter" "$?" 0

# The live matrix: every case under the arm64 kernel against the simulated
# arm64 program, threads started under the filter, trap and log modes.
if /hardening.test -test.run 'TestLiveFilter|TestTrapMode|TestLogMode|TestSimulated|TestBothArches' -test.v >/tmp/t 2>&1; then
	echo "PASS hardening live tests on arm64 ($(grep -c -- '--- PASS' /tmp/t) passed)"
else
	grep -E -- '--- FAIL|^\s+seccomp_' /tmp/t | head -20
	echo "FAIL hardening live tests on arm64"
fi
/ningen check --seccomp >/tmp/c 2>&1
check "ningen check --seccomp reports kill_process" "$(grep -c 'kill_process action: *yes' /tmp/c)" 1

echo "arm64-live: DONE"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

echo "arm64-live: booting $(basename "$cache/vmlinuz") under qemu-system-aarch64 (-M virt -cpu cortex-a57)" >&2
start=$(date +%s)
timeout "$timeout_s" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 1024 -nographic -no-reboot \
	-kernel "$cache/vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=3" </dev/null >"$work/console" 2>&1 || true
tr -d '\r' <"$work/console" | grep -E '^(PASS|FAIL|arm64-live:|  \| )' || true
took=$(($(date +%s) - start))

fails=$(tr -d '\r' <"$work/console" | grep -c '^FAIL' || true)
passes=$(tr -d '\r' <"$work/console" | grep -c '^PASS' || true)
if ! tr -d '\r' <"$work/console" | grep -q '^arm64-live: DONE'; then
	echo "FAIL the VM did not finish (${took}s); console:"
	tail -40 "$work/console"
	exit 1
fi
echo "arm64-live: $passes passed, $fails failed in ${took}s under emulation"
[ "$fails" = 0 ]
