//go:build linux

package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// randSecret returns n random bytes that do not end in a newline, so the
// default trim leaves them as they are.
func randSecret(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if n > 0 && (b[n-1] == '\n' || b[n-1] == '\r') {
		b[n-1] = 'x'
	}
	return b
}

// needLock skips a test that needs n bytes of locked memory on a host that
// cannot give them to an unprivileged process.
func needLock(t testing.TB, n int) {
	t.Helper()
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur == unix.RLIM_INFINITY || rl.Cur >= uint64(n)+uint64(4*pageSize) || hasCapIPCLock(t) {
		return
	}
	t.Skipf("needs %d bytes of locked memory: RLIMIT_MEMLOCK is %d and there is no CAP_IPC_LOCK (raise ulimit -l)", n, rl.Cur)
}

func hasCapIPCLock(t testing.TB) bool {
	for _, line := range procLines(t, "/proc/self/status") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<unix.CAP_IPC_LOCK) != 0
		}
	}
	return false
}

func procLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

// lockedKB is the process's VmLck: what the kernel counts as mlock'd.
func lockedKB(t testing.TB) int {
	t.Helper()
	for _, line := range procLines(t, "/proc/self/status") {
		if f, ok := strings.CutPrefix(line, "VmLck:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmLck in /proc/self/status")
	return 0
}

// vma is one entry of /proc/self/smaps.
type vma struct {
	start, end uintptr
	perms      string
	fields     map[string]string
}

func smaps(t testing.TB) []vma {
	t.Helper()
	var out []vma
	for _, line := range procLines(t, "/proc/self/smaps") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") {
			s, err1 := strconv.ParseUint(lo, 16, 64)
			e, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil && len(f) > 1 {
				out = append(out, vma{start: uintptr(s), end: uintptr(e), perms: f[1], fields: map[string]string{}})
				continue
			}
		}
		if len(out) > 0 && strings.HasSuffix(f[0], ":") {
			out[len(out)-1].fields[strings.TrimSuffix(f[0], ":")] = strings.Join(f[1:], " ")
		}
	}
	return out
}

func vmaAt(t testing.TB, maps []vma, addr uintptr) (vma, bool) {
	t.Helper()
	for _, m := range maps {
		if m.start <= addr && addr < m.end {
			return m, true
		}
	}
	return vma{}, false
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// loadBytes loads data as secret name through the stdin source, from a pipe.
func loadBytes(t testing.TB, v *Vault, name string, data []byte, o LoadOptions) (*Secret, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		w.Close()
		werr <- err
	}()
	o.Stdin = r
	s, err := v.Load(name, Source{Kind: FromStdin}, o)
	if e := <-werr; e != nil && err == nil {
		t.Fatalf("write the pipe: %v", e)
	}
	return s, err
}

func view(t testing.TB, v *Vault, s *Secret) []byte {
	t.Helper()
	var got []byte
	if err := v.View(s, func(b []byte) { got = bytes.Clone(b) }); err != nil {
		t.Fatalf("view %s: %v", s.Name, err)
	}
	return got
}

// forEachBacking runs f once per arena backing this kernel offers.
func forEachBacking(t *testing.T, f func(t *testing.T, b Backing)) {
	for _, b := range []Backing{Locked, SecretMem} {
		t.Run(string(b), func(t *testing.T) {
			if b == SecretMem && !HaveSecretMem() {
				t.Skip("this kernel has no memfd_secret")
			}
			f(t, b)
		})
	}
}

func openVault(t testing.TB, b Backing) *Vault {
	t.Helper()
	v, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	if v.Backing() != b {
		t.Fatalf("Open(%s).Backing() = %s", b, v.Backing())
	}
	closeVault(t, v)
	return v
}

func closeVault(t testing.TB, v *Vault) {
	t.Cleanup(func() {
		if _, err := v.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

func TestArenaPacking(t *testing.T) {
	forEachBacking(t, func(t *testing.T, b Backing) {
		v := openVault(t, b)
		want := make([][]byte, 50)
		secrets := make([]*Secret, 50)
		for i := range want {
			want[i] = randSecret(t, 40)
			s, err := loadBytes(t, v, fmt.Sprintf("S%d", i), want[i], LoadOptions{})
			if err != nil {
				t.Fatalf("load S%d: %v", i, err)
			}
			secrets[i] = s
		}
		if got := v.Locked(); got != 4096 {
			t.Errorf("50 secrets of 40 bytes: Locked() = %d, want 4096 (one arena)", got)
		}
		if len(v.arenas) != 1 {
			t.Errorf("50 secrets of 40 bytes use %d arenas, want 1", len(v.arenas))
		}
		for i, s := range secrets {
			if s.Len() != 40 {
				t.Errorf("S%d: Len() = %d, want 40", i, s.Len())
			}
			if got := view(t, v, s); !bytes.Equal(got, want[i]) {
				t.Errorf("S%d: value differs from what was loaded", i)
			}
		}
		if got := v.Secrets(); len(got) != 50 || got[0] != secrets[0] || got[49] != secrets[49] {
			t.Errorf("Secrets() does not list the 50 secrets in load order")
		}
		n, err := v.Close()
		if err != nil || n != 4096 {
			t.Errorf("Close() = %d, %v; want 4096, nil", n, err)
		}
	})
}

func TestViewBounds(t *testing.T) {
	v := openVault(t, Locked)
	a, b := randSecret(t, 33), randSecret(t, 17)
	sa, err := loadBytes(t, v, "A", a, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := loadBytes(t, v, "B", b, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.a != sb.a || sb.off != sa.off+sa.n {
		t.Fatalf("A and B are not neighbours (arena %p+%d and %p+%d): the test needs them packed", sa.a, sa.off, sb.a, sb.off)
	}
	err = v.View(sa, func(p []byte) {
		if len(p) != len(a) || cap(p) != len(a) {
			t.Errorf("View of A: len %d cap %d, want both %d", len(p), cap(p), len(a))
		}
		grown := append(p, 0xff)
		if addr(grown) == addr(p) {
			t.Errorf("append to A's view wrote into the arena")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := view(t, v, sb); !bytes.Equal(got, b) {
		t.Errorf("B changed after an append to A's view")
	}
	if got := view(t, v, sa); !bytes.Equal(got, a) {
		t.Errorf("A changed")
	}
}

// TestArenaMapping checks the mapping with the kernel's own account of it:
// the data pages are locked and not dumped, the pages around them are
// inaccessible.
func TestArenaMapping(t *testing.T) {
	forEachBacking(t, func(t *testing.T, b Backing) {
		before := lockedKB(t)
		a, err := newArena(5000, b)
		if err != nil {
			t.Fatal(err)
		}
		defer a.destroy()
		if len(a.data) != 2*pageSize || len(a.mapping) != 4*pageSize {
			t.Fatalf("newArena(5000): data %d, mapping %d; want %d and %d", len(a.data), len(a.mapping), 2*pageSize, 4*pageSize)
		}
		if got := lockedKB(t) - before; got != len(a.data)/1024 {
			t.Errorf("VmLck grew by %d kB for the arena, want %d", got, len(a.data)/1024)
		}
		maps := smaps(t)
		start, end := addr(a.data), addr(a.data)+uintptr(len(a.data))
		data, ok := vmaAt(t, maps, start)
		if !ok {
			t.Fatalf("arena data at %#x is not mapped", start)
		}
		if data.start != start || data.end != end {
			t.Errorf("data VMA is %#x-%#x, want %#x-%#x", data.start, data.end, start, end)
		}
		if want := map[Backing]string{Locked: "rw-p", SecretMem: "rw-s"}[b]; data.perms != want {
			t.Errorf("data pages are %s, want %s", data.perms, want)
		}
		flags := strings.Fields(data.fields["VmFlags"])
		for _, f := range []string{"lo", "dd"} {
			if !slices.Contains(flags, f) {
				t.Errorf("data VmFlags %v lack %q", flags, f)
			}
		}
		for name, at := range map[string]uintptr{"before": start - 1, "after": end} {
			g, ok := vmaAt(t, maps, at)
			if !ok {
				t.Errorf("guard page %s the data is not mapped", name)
				continue
			}
			if g.perms != "---p" {
				t.Errorf("guard page %s the data is %s, want ---p", name, g.perms)
			}
		}
	})
}

// TestSecretMemOutOfReach reads arena data through /proc/self/mem, as a
// debugger or root would: mlock'd pages can be read, memfd_secret pages
// must not be (G7).
func TestSecretMemOutOfReach(t *testing.T) {
	forEachBacking(t, func(t *testing.T, b Backing) {
		a, err := newArena(100, b)
		if err != nil {
			t.Fatal(err)
		}
		defer a.destroy()
		want := randSecret(t, 64)
		copy(a.data, want)
		mem, err := os.Open("/proc/self/mem")
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		got := make([]byte, len(want))
		_, err = mem.ReadAt(got, int64(addr(a.data)))
		switch b {
		case Locked:
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("/proc/self/mem on mlock'd data: %v (the control case should read the value)", err)
			}
		case SecretMem:
			if err == nil || bytes.Equal(got, want) {
				t.Errorf("/proc/self/mem read memfd_secret data (err %v)", err)
			}
		}
	})
}

const guardEnv = "NINGEN_TEST_GUARD_TOUCH"

var sink byte

// TestGuardPages touches the bytes around an arena's data in a re-executed
// child: the guards must kill it with SIGSEGV, the data bytes must not.
func TestGuardPages(t *testing.T) {
	if where := os.Getenv(guardEnv); where != "" {
		guardChild(where)
		return
	}
	forEachBacking(t, func(t *testing.T, b Backing) {
		for _, tc := range []struct {
			where string
			segv  bool
		}{
			{"before", true},
			{"after", true},
			{"first", false},
			{"last", false},
		} {
			t.Run(tc.where, func(t *testing.T) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestGuardPages$", "-test.count=1")
				// GORACE: a race-enabled child would otherwise linger a second at exit.
				cmd.Env = append(os.Environ(), guardEnv+"="+tc.where+","+string(b), "GORACE=atexit_sleep_ms=0")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				if !strings.Contains(out.String(), "touching "+tc.where) {
					t.Fatalf("the child never reached the touch: %v\n%s", err, out.String())
				}
				var ee *exec.ExitError
				segv := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGSEGV
				if segv != tc.segv {
					t.Errorf("touching the byte %s the data: killed by SIGSEGV = %v, want %v (%v)\n%s", tc.where, segv, tc.segv, err, out.String())
				}
				if !tc.segv && !strings.Contains(out.String(), "survived") {
					t.Errorf("child touching its own data did not survive: %v\n%s", err, out.String())
				}
			})
		}
	})
}

// guardChild runs in the re-executed child. It hands SIGSEGV back to the
// kernel's default action, so a fault kills the process with that signal
// instead of becoming a Go runtime panic, and turns core dumps off.
func guardChild(spec string) {
	where, backing, _ := strings.Cut(spec, ",")
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	a, err := newArena(100, Backing(backing))
	if err != nil {
		fmt.Fprintln(os.Stderr, "newArena:", err)
		os.Exit(3)
	}
	if _, err := rand.Read(a.data); err != nil {
		os.Exit(3)
	}
	base := unsafe.Pointer(&a.data[0])
	p := map[string]unsafe.Pointer{
		"before": unsafe.Add(base, -1),
		"after":  unsafe.Add(base, len(a.data)),
		"first":  base,
		"last":   unsafe.Add(base, len(a.data)-1),
	}[where]
	var sa [4]uint64 // struct sigaction with sa_handler = SIG_DFL
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(syscall.SIGSEGV), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "rt_sigaction:", e)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, "touching "+where)
	sink = *(*byte)(p)
	*(*byte)(p) = sink + 1
	fmt.Fprintln(os.Stderr, "survived")
	os.Exit(0)
}

// TestWipeVerified fills a real arena, checks that the verification sees
// the bytes, wipes it and checks that it reads back zero, then destroys it:
// the pages are unlocked and unmapped.
func TestWipeVerified(t *testing.T) {
	forEachBacking(t, func(t *testing.T, b Backing) {
		before := lockedKB(t)
		a, err := newArena(3*pageSize, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rand.Read(a.data); err != nil {
			t.Fatal(err)
		}
		a.data[len(a.data)-1] = 1 // at least one byte is non-zero
		if isZero(a.data) {
			t.Fatal("isZero is true on random arena data")
		}
		wipe(a.data)
		if !isZero(a.data) {
			t.Fatal("isZero is false right after wipe")
		}
		for i, c := range a.data {
			if c != 0 {
				t.Fatalf("byte %d is %#x after wipe", i, c)
			}
		}
		if _, err := rand.Read(a.data); err != nil {
			t.Fatal(err)
		}
		start, size := addr(a.data), len(a.data)
		n, err := a.destroy()
		if err != nil || n != size {
			t.Errorf("destroy() = %d, %v; want %d, nil", n, err, size)
		}
		if m, ok := vmaAt(t, smaps(t), start); ok && strings.Contains(m.fields["VmFlags"], "dd") {
			t.Errorf("arena data at %#x is still mapped after destroy: %s %s", start, m.perms, m.fields["VmFlags"])
		}
		if got := lockedKB(t); got != before {
			t.Errorf("VmLck is %d kB after destroy, want %d", got, before)
		}
	})
}

// TestIsZero checks that the read-back finds one stray byte anywhere, at
// any alignment: a verification that misses bytes proves nothing.
func TestIsZero(t *testing.T) {
	a, err := newArena(pageSize, Locked)
	if err != nil {
		t.Fatal(err)
	}
	defer a.destroy()
	for _, off := range []int{0, 1, 3, 7, 8, 9} {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 64, 1000} {
			b := a.data[off : off+n]
			wipe(a.data)
			if !isZero(b) {
				t.Fatalf("isZero(zeroes[%d:%d]) = false", off, off+n)
			}
			for i := range b {
				b[i] = byte(1 + i%255)
				if isZero(b) {
					t.Fatalf("isZero misses a non-zero byte at %d of data[%d:%d]", i, off, off+n)
				}
				b[i] = 0
			}
		}
	}
}

// TestCloseWipesEverything closes a vault with secrets in two arenas: it
// reports every locked byte, unlocks and unmaps them, and stays closed.
func TestCloseWipesEverything(t *testing.T) {
	forEachBacking(t, func(t *testing.T, b Backing) {
		before := lockedKB(t)
		v := openVault(t, b)
		small, err := loadBytes(t, v, "SMALL", randSecret(t, 100), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		big, err := loadBytes(t, v, "BIG", randSecret(t, 3*pageSize), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if small.a == big.a {
			t.Fatal("a 3-page secret fit in the first page's arena")
		}
		want := len(small.a.data) + len(big.a.data)
		if got := v.Locked(); got != want {
			t.Errorf("Locked() = %d, want %d (two arenas)", got, want)
		}
		if got := lockedKB(t) - before; got != want/1024 {
			t.Errorf("the kernel counts %d kB locked, want %d", got, want/1024)
		}
		starts := []uintptr{addr(small.a.data), addr(big.a.data)}
		n, err := v.Close()
		if err != nil || n != want {
			t.Fatalf("Close() = %d, %v; want %d, nil", n, err, want)
		}
		if got := lockedKB(t); got != before {
			t.Errorf("VmLck is %d kB after Close, want %d", got, before)
		}
		maps := smaps(t)
		for _, s := range starts {
			if m, ok := vmaAt(t, maps, s); ok && strings.Contains(m.fields["VmFlags"], "dd") {
				t.Errorf("arena at %#x still mapped after Close", s)
			}
		}
		if v.Locked() != 0 || len(v.Secrets()) != 0 {
			t.Errorf("after Close: Locked() = %d, %d secrets; want 0, 0", v.Locked(), len(v.Secrets()))
		}
		if n2, err2 := v.Close(); n2 != n || err2 != nil {
			t.Errorf("second Close() = %d, %v; want %d, nil", n2, err2, n)
		}
		if err := v.View(small, func([]byte) { t.Error("View ran fn on a closed vault") }); !errors.Is(err, ErrClosed) {
			t.Errorf("View after Close: %v, want ErrClosed", err)
		}
		_, err = loadBytes(t, v, "LATE", randSecret(t, 10), LoadOptions{})
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Load after Close: %v, want ErrClosed", err)
		}
		if got := lockedKB(t); got != before {
			t.Errorf("a Load after Close locked memory: VmLck %d kB, want %d", got, before)
		}
	})
}

// TestCloseConcurrent closes from 100 goroutines at once while others view:
// every Close reports the same bytes, every View sees the value or
// ErrClosed. Run with -race.
func TestCloseConcurrent(t *testing.T) {
	v := New()
	want := randSecret(t, 200)
	s, err := loadBytes(t, v, "S", want, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	locked := len(s.a.data)
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]int, 100)
	errs := make([]error, 100)
	for i := range 100 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = v.Close()
		}()
		go func() {
			defer wg.Done()
			<-start
			err := v.View(s, func(b []byte) {
				if !bytes.Equal(b, want) {
					t.Errorf("View during Close saw a partial value")
				}
			})
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("View during Close: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range results {
		if results[i] != locked || errs[i] != nil {
			t.Errorf("Close #%d = %d, %v; want %d, nil", i, results[i], errs[i], locked)
		}
	}
}

// TestCloseWhileLoading races loads against Close: nothing loaded after the
// wipe may stay locked.
func TestCloseWhileLoading(t *testing.T) {
	before := lockedKB(t)
	v := New()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := loadBytes(t, v, fmt.Sprintf("S%d", i), randSecret(t, 500), LoadOptions{})
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("load S%d: %v", i, err)
			}
		}()
	}
	close(start)
	if _, err := v.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
	if v.Locked() != 0 {
		t.Errorf("Locked() = %d after Close and every Load", v.Locked())
	}
	if got := lockedKB(t); got != before {
		t.Errorf("VmLck %d kB after Close, want %d: a load after Close kept memory", got, before)
	}
}

// TestFailedLoadWipes checks that bytes read for a secret that is then
// refused, and the newline trimmed from one that is kept, are zero in the
// arena.
func TestFailedLoadWipes(t *testing.T) {
	forEachBacking(t, func(t *testing.T, b Backing) {
		v := openVault(t, b)
		keep := randSecret(t, 50)
		s, err := loadBytes(t, v, "KEEP", append(bytes.Clone(keep), '\r', '\n'), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = loadBytes(t, v, "BIG", randSecret(t, 300), LoadOptions{MaxSize: 200})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("300 bytes with MaxSize 200: %v, want ErrTooLarge", err)
		}
		if len(v.arenas) != 1 || s.a != v.arenas[0] {
			t.Fatalf("want one arena holding KEEP, have %d", len(v.arenas))
		}
		if got := s.a.data[:s.n]; !bytes.Equal(got, keep) {
			t.Errorf("KEEP changed")
		}
		if !isZero(s.a.data[s.n:]) {
			t.Errorf("arena bytes after KEEP are not zero: a refused value or a trimmed newline is still there")
		}
	})
}

// TestGrowth reads a 1 MiB secret of unknown size: it arrives byte-exact
// and the regions it outgrew are given back.
func TestGrowth(t *testing.T) {
	const size = 1 << 20
	forEachBacking(t, func(t *testing.T, b Backing) {
		needLock(t, 4*size)
		before := lockedKB(t)
		v := openVault(t, b)
		want := randSecret(t, size)
		s, err := loadBytes(t, v, "BIG", want, LoadOptions{MaxSize: 2 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != size {
			t.Fatalf("Len() = %d, want %d", s.Len(), size)
		}
		if got := view(t, v, s); !bytes.Equal(got, want) {
			t.Fatal("1 MiB secret differs from what was written")
		}
		if got := v.Locked(); got > 2*size {
			t.Errorf("Locked() = %d for a %d-byte secret: outgrown arenas were kept", got, size)
		}
		if len(v.arenas) != 1 {
			t.Errorf("%d arenas for one secret, want 1", len(v.arenas))
		}
		if got := lockedKB(t) - before; got*1024 != v.Locked() {
			t.Errorf("the kernel counts %d kB locked, the vault %d bytes", got, v.Locked())
		}
	})
}

// TestOpen checks the backing choice: auto takes memfd_secret where the
// kernel has it, an unknown backing is refused.
func TestOpen(t *testing.T) {
	v, err := Open(Auto)
	if err != nil {
		t.Fatal(err)
	}
	want := Locked
	if HaveSecretMem() {
		want = SecretMem
	}
	if v.Backing() != want {
		t.Errorf("Open(auto).Backing() = %s, want %s", v.Backing(), want)
	}
	if New().Backing() != Locked {
		t.Errorf("New().Backing() = %s, want locked", New().Backing())
	}
	if _, err := Open("swap"); err == nil {
		t.Error("Open(\"swap\") succeeded")
	}
}
