#!/usr/bin/env bash
# The whole suite: static checks, every package's tests with -race as the
# current user, then the tests again as an unprivileged user (nobody), where
# the locked-memory limit is the default and no cgroup is writable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_build_deps

step() { printf '\n== %s\n' "$*"; }

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt -l lists:"; echo "$unformatted"; exit 1; fi
go vet ./...
staticcheck=$(go env GOPATH)/bin/staticcheck
if [ ! -x "$staticcheck" ]; then
	(cd / && go install honnef.co/go/tools/cmd/staticcheck@latest)
fi
"$staticcheck" ./...

step "builds without cgo and for darwin"
CGO_ENABLED=0 go build ./...
GOOS=darwin CGO_ENABLED=0 go build ./...
CGO_ENABLED=0 go test -count=1 ./hardening/

step "go test -race ./... as $(id -un)"
go test -race -count=1 -timeout 6m ./...

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	step "the tests again as nobody (memlock limit $(ulimit -l) KiB for root's shell; nobody gets the default)"
	dir=$(mktemp -d /tmp/ningen-nobody.XXXXXX)
	trap 'rm -rf "$dir"' EXIT
	chmod 1777 "$dir" # nobody's HOME and TMPDIR too: all of it goes with the trap
	build_ningen "$dir/ningen"
	for pkg in $(go list ./...); do
		rel=${pkg#$(go list -m)}
		rel=${rel#/}
		name=$(echo "${rel:-main}" | tr / _)
		go test -c -o "$dir/$name.test" "./$rel" 
		[ -f "$dir/$name.test" ] || continue
		(cd "./$rel" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
			env HOME="$dir" TMPDIR="$dir" NINGEN_E2E_BIN="$dir/ningen" NINGEN_BIN="$dir/ningen" \
			"$dir/$name.test" -test.count=1 -test.timeout=6m)
	done
else
	echo "(not root: the unprivileged pass runs in CI as root → nobody)"
fi

step "the fork storm, alone: TestThreadedChainsDie as $(id -un)"
# 100 chains that fork without pause starve anything that runs beside them
# and can use up the pids, so they run here, after the rest, by themselves.
NINGEN_STRESS=1 go test -count=1 -timeout 5m -run '^TestThreadedChainsDie$' -v .
if [ "$(id -u)" = 0 ] && [ -x "${dir:-}/main.test" ]; then
	step "the fork storm again as nobody (subreaper mode only)"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME="$dir" TMPDIR="$dir" NINGEN_E2E_BIN="$dir/ningen" NINGEN_STRESS=1 \
		"$dir/main.test" -test.count=1 -test.timeout=5m -test.run '^TestThreadedChainsDie$' -test.v
fi

if [ -x scripts/arm64-live.sh ]; then
	step "arm64 under the live filter (qemu)"
	scripts/arm64-live.sh
fi
echo
echo "all tests passed"
