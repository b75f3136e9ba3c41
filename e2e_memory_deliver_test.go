//go:build linux

package main

// memfd and secretmem delivery, from the child's side, and the descriptors
// ningen keeps and hands on (issue 5). See e2e_memory_test.go.

import (
	"bytes"
	"embed"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// The Python readers of the README, run by the tests as the child.
//
//go:embed testdata/read_memfd.py testdata/read_secretmem.py
var readerFixtures embed.FS

// readers writes the two readers beside the e2e fixtures, once.
var readers = sync.OnceValue(func() error {
	for _, name := range []string{"read_memfd.py", "read_secretmem.py"} {
		b, err := readerFixtures.ReadFile("testdata/" + name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(fixtures, name), b, 0o755); err != nil {
			return err
		}
	}
	return nil
})

func readerPy(t testing.TB, name string) string {
	t.Helper()
	if err := readers(); err != nil {
		t.Fatalf("write the readers: %v", err)
	}
	return filepath.Join(fixtures, name)
}

// --- memfd and secretmem delivery ------------------------------------------

// TestMemfdDelivery: a memfd delivery reads the same twice, also through
// /dev/fd/N, byte-exact, with every seal visible, and no attempt to write,
// grow, shrink or unseal it gets through.
func TestMemfdDelivery(t *testing.T) {
	t.Parallel()
	for _, backing := range backings() {
		t.Run(backing, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			v := memSecret(t)
			// A plain read(2) of the inherited descriptor first, from its
			// offset (cat <&3 does that), then the readers.
			script := `printf 'plain-read %s\n' "$(sha256sum <&"$NINGEN_FD_A" | cut -d' ' -f1)" && "$1" "$2" A && "$1" "$3" A`
			s, st := runSession(t, opts{}, "run", "--vault", backing, "--deliver", "memfd",
				"-s", "A=file:"+writeSecret(t, dir, "a", v),
				"--", "/bin/sh", "-c", script, "sh", python, readerPy(t, "read_memfd.py"), sealcheckPy())
			wantExit(t, s, st, 0)
			digest := sha256Hex(v)
			if got := strings.TrimPrefix(s.out.await(t, "the plain read", hasPrefix("plain-read ")), "plain-read "); got != digest {
				t.Errorf("read(2) from the inherited memfd gives sha256 %s, want %s (the value, from offset 0)", got, digest)
			}
			read := s.out.await(t, "read_memfd.py's line", hasPrefix("A: "+strconv.Itoa(len(v))+" bytes"))
			want := fmt.Sprintf("A: %d bytes, sha256 %s, same on re-read: True, seals: seal,shrink,grow,write", len(v), digest)
			if read != want {
				t.Errorf("read_memfd.py says\n  %s\nwant\n  %s", read, want)
			}
			check := s.out.await(t, "sealcheck.py's line", contains("devfd-write="))
			for _, w := range []string{"write", "append", "grow", "shrink", "fallocate", "mmap-write", "add-seal", "devfd-write"} {
				if got := attr(check, w); got != "EPERM" {
					t.Errorf("%s on the sealed memfd: %s, want EPERM\n%s", w, got, check)
				}
			}
			if got := attr(check, "sha256"); got != digest {
				t.Errorf("after the attempts the memfd holds sha256 %s, want %s (the value)", got, digest)
			}
			if got := attr(check, "size"); got != strconv.Itoa(len(v)) {
				t.Errorf("after the attempts the memfd has size %s, want %d", got, len(v))
			}
			noLeak(t, s, v)
		})
	}
}

// TestSecretmemDelivery: a secretmem delivery is read by mmap, byte-exact,
// and read(2) on it fails with EINVAL, as the kernel's secretmem file
// offers no read.
func TestSecretmemDelivery(t *testing.T) {
	needSecretMem(t)
	t.Parallel()
	for _, backing := range backings() {
		t.Run(backing, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			a, b := memSecret(t), memSecret(t)
			// Per-secret modes are TestDescriptorsCloseOnExec's.
			s, st := runSession(t, opts{}, "run", "--vault", backing, "--deliver", "secretmem",
				"-s", "A=file:"+writeSecret(t, dir, "a", a),
				"-s", "B=file:"+writeSecret(t, dir, "b", b),
				"--", "/bin/sh", "-c", `"$1" "$2" A && "$1" "$2" B`, "sh", python, readerPy(t, "read_secretmem.py"))
			wantExit(t, s, st, 0)
			for _, c := range []struct {
				name string
				v    []byte
			}{{"A", a}, {"B", b}} {
				line := s.out.await(t, "read_secretmem.py's line for "+c.name, hasPrefix(c.name+": "))
				want := fmt.Sprintf("%s: %d bytes, sha256 %s; read(2) fails: ", c.name, len(c.v), sha256Hex(c.v))
				if !strings.HasPrefix(line, want) {
					t.Errorf("read_secretmem.py says\n  %s\nwant it to begin\n  %s", line, want)
				}
				if why := strings.TrimPrefix(line, want); !strings.EqualFold(why, unix.EINVAL.Error()) {
					t.Errorf("read(2) on the memfd_secret: %q, want %q (EINVAL)", why, unix.EINVAL.Error())
				}
			}
			noLeak(t, s, a, b)
		})
	}
}

// --- descriptors ---------------------------------------------------------

// TestDescriptorsCloseOnExec: with several fd, memfd and secretmem
// deliveries, and descriptors ningen inherited and never meant to pass on,
// the child has exactly 0–2 and its deliveries, each of the right kind; and
// every descriptor ningen holds for itself, 0–2 aside, is close-on-exec.
func TestDescriptorsCloseOnExec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := newMarker(t)
	ctl, ctlW := ctlFIFO(t, dir)
	decoy, err := os.Create(filepath.Join(dir, "decoy-"+marker))
	if err != nil {
		t.Fatal(err)
	}
	defer decoy.Close()
	srcR, srcW := mustPipe(t)
	if _, err := srcW.Write(memSecret(t)); err != nil {
		t.Fatal(err)
	}
	srcW.Close()
	defer srcR.Close()

	args := []string{"run"}
	kinds := map[string]string{"A": "fd", "B": "memfd", "C": "fd", "D": "memfd", "E": "fd"}
	if haveSecretMem() {
		kinds["S1"], kinds["S2"] = "secretmem", "secretmem"
	}
	names := slices.Sorted(maps.Keys(kinds))
	for _, n := range names {
		src := "file:" + writeSecret(t, dir, n, memSecret(t))
		if n == "E" {
			src = "fd:4" // ningen's inherited srcR
		}
		args = append(args, "-s", n+"="+src, "--deliver", n+"="+kinds[n])
	}
	args = append(args, "--", python, memchildPy(), ctl, marker)
	// ningen inherits fd 3 (decoy) and 4 (the fd: source) without CLOEXEC.
	s := start(t, opts{marker: marker, extra: []*os.File{decoy, srcR}}, args...)
	child := readyPID(t, s.out.await(t, "the child", hasPrefix("ready")))
	s.err.await(t, "the start line", contains("event=start"))

	t.Run("child", func(t *testing.T) {
		tell(t, ctlW, "fds")
		got := strings.TrimPrefix(s.out.await(t, "the child's fds", hasPrefix("fds ")), "fds ")
		want := []string{"0", "1", "2"}
		for i := range names {
			want = append(want, strconv.Itoa(3+i))
		}
		if got != strings.Join(want, ",") {
			t.Errorf("the child has descriptors %s, want exactly %s (stdio and %d deliveries)", got, strings.Join(want, ","), len(names))
		}
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child))
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			fd := 3 + i
			if !bytes.Contains(environ, []byte(fmt.Sprintf("NINGEN_FD_%s=%d\x00", n, fd))) {
				t.Errorf("NINGEN_FD_%s is not %d in the child's environment", n, fd)
			}
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", child, fd))
			if err != nil {
				t.Errorf("child fd %d (%s): %v", fd, n, err)
				continue
			}
			wantPrefix := map[string]string{"fd": "pipe:", "memfd": "/memfd:ningen-" + n, "secretmem": "/secretmem"}[kinds[n]]
			if !strings.HasPrefix(target, wantPrefix) {
				t.Errorf("child fd %d (%s, %s delivery) is %s, want %s...", fd, n, kinds[n], target, wantPrefix)
			}
		}
	})
	t.Run("ningen", func(t *testing.T) {
		if !isRoot() {
			t.Skip("needs root: ningen is not dumpable, so its /proc/PID/fd is closed to its own user")
		}
		fdDir := fmt.Sprintf("/proc/%d/fd", s.pid)
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			t.Fatal(err)
		}
		var held []string
		defer func() { t.Logf("ningen's own descriptors beyond 0-2: %s", strings.Join(held, ", ")) }()
		for _, e := range ents {
			fd, _ := strconv.Atoi(e.Name())
			if fd <= 2 {
				continue
			}
			target, _ := os.Readlink(fdDir + "/" + e.Name())
			info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", s.pid, fd))
			if err != nil {
				continue // closed meanwhile
			}
			flags, ok := fdinfoFlags(string(info))
			if !ok {
				t.Errorf("ningen fd %d (%s): no flags in fdinfo:\n%s", fd, target, info)
				continue
			}
			if flags&unix.O_CLOEXEC == 0 {
				t.Errorf("ningen fd %d (%s) is not close-on-exec (flags %#o)", fd, target, flags)
			}
			held = append(held, fmt.Sprintf("%d %s", fd, target))
		}
	})
	tell(t, ctlW, "exit 0")
	wantExit(t, s, s.wait(), 0)
}

// fdinfoFlags parses the octal flags field of /proc/PID/fdinfo/N.
func fdinfoFlags(info string) (int, bool) {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			return int(n), err == nil
		}
	}
	return 0, false
}
