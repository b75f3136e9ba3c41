# Shared by scripts/*.sh: make sure the build can run on a fresh Debian host.

need_build_deps() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			echo "ningen: Go is missing: install Go 1.26.8 or newer (https://go.dev/dl) and retry" >&2
			exit 1
		fi
	fi
	if [ ! -f /usr/include/seccomp.h ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "ningen: installing libseccomp-dev (needed to build)" >&2
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev >/dev/null
		else
			echo "ningen: libseccomp-dev is missing: run 'sudo apt-get install -y libseccomp-dev' and retry" >&2
			exit 1
		fi
	fi
}

# build_ningen OUT builds ningen as it is meant to ship: statically linked
# (libseccomp and libc included), so no LD_PRELOAD or LD_LIBRARY_PATH can
# put code into it before it hardens itself, and it starts about 0.4 ms
# sooner without the dynamic loader. netgo and osusergo keep glibc's NSS,
# which cannot be linked statically, out. Where static linking is not
# possible it says so and builds a dynamic binary.
build_ningen() { build_static "$1" .; }

# build_static OUT PKG [TAG] builds package PKG that way, with build tag TAG.
# The version `ningen version` prints is git describe's, when there is one.
build_static() {
	local out=$1 pkg=$2 tags=netgo,osusergo${3:+,$3} log ver
	ver=$(git describe --tags --always --dirty 2>/dev/null) || ver=dev
	log=$(mktemp)
	if ! go build -tags "$tags" -ldflags "-X main.version=$ver -linkmode external -extldflags -static" -o "$out" "$pkg" 2>"$log"; then
		echo "ningen: static link failed (is libc6-dev installed?); building a dynamic binary" >&2
		sed 's/^/  /' "$log" >&2
		go build -tags "$tags" -ldflags "-X main.version=$ver" -o "$out" "$pkg"
	fi
	rm -f "$log"
}
