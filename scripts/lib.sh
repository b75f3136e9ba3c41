# Shared by scripts/*.sh: make sure the build can run on a fresh Debian host.

need_build_deps() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			echo "ningen: Go is missing: install Go 1.26 or newer (https://go.dev/dl) and retry" >&2
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
