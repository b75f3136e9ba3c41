//go:build unix

package vault

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by every operation on a vault that has been wiped.
var ErrClosed = errors.New("vault is closed")

// LockError says that the kernel refused to lock vault memory. Its message
// carries what was needed, the limit in force and how to raise it (G1).
type LockError struct {
	Need   int   // bytes this arena needed
	Locked int   // bytes the vault already held locked
	Limit  int64 // RLIMIT_MEMLOCK soft limit, -1 if unlimited or unknown
	Hard   int64 // RLIMIT_MEMLOCK hard limit, -1 if unlimited or unknown
	Err    error
}

func (e *LockError) Error() string {
	limit := "unlimited"
	if e.Limit >= 0 {
		limit = fmt.Sprintf("%d bytes", e.Limit)
	}
	return fmt.Sprintf("lock %d bytes of secret memory (%d already locked, limit %s): %v",
		e.Need, e.Locked, limit, e.Err)
}

func (e *LockError) Unwrap() error { return e.Err }

// Hint says how to give ningen the locked memory it needs.
func (e *LockError) Hint() string {
	kib := (int64(e.Need+e.Locked) + 1023) / 1024
	if e.Hard >= 0 && e.Hard < kib*1024 {
		// ulimit -l cannot go above the hard limit without privilege.
		return fmt.Sprintf("the hard locked-memory limit (%d KiB) is below the %d KiB needed, so ulimit -l cannot help: "+
			"raise it as root (LimitMEMLOCK= in a systemd unit, memlock in /etc/security/limits.conf, prlimit) or grant CAP_IPC_LOCK",
			e.Hard/1024, kib)
	}
	return fmt.Sprintf("raise the locked-memory limit to at least %d KiB (ulimit -l %d, "+
		"LimitMEMLOCK= in a systemd unit, memlock in /etc/security/limits.conf) or grant CAP_IPC_LOCK", kib, kib)
}

// Secret is a handle on one value in a vault. It holds no bytes itself.
type Secret struct {
	Name string
	a    *arena
	off  int
	n    int
}

// Len is the length of the value in bytes.
func (s *Secret) Len() int { return s.n }

// Vault holds secrets in locked arenas until Close.
type Vault struct {
	backing Backing
	mu      sync.RWMutex
	arenas  []*arena
	secrets []*Secret
	locked  int
	closed  bool
	wiped   int
	wipeErr error
}

// Backing is the memory arenas are made of.
type Backing string

const (
	// Locked is anonymous memory locked with mlock.
	Locked Backing = "locked"
	// SecretMem is memfd_secret memory: locked by the kernel and removed
	// from its direct map, so not even root can read it through
	// /proc/PID/mem (Linux 5.14+, on by default since 6.5).
	SecretMem Backing = "secretmem"
	// Auto is SecretMem where the kernel offers it, Locked otherwise.
	Auto Backing = "auto"
)

// ErrNoSecretMem says the kernel has no memfd_secret.
var ErrNoSecretMem = errors.New("this kernel has no memfd_secret (Linux 5.14+, secretmem enabled)")

// New returns an empty vault of mlock'd memory; arenas are mapped as
// secrets arrive.
func New() *Vault { return &Vault{backing: Locked} }

// Open returns an empty vault with the backing asked for. Auto picks
// SecretMem when the kernel has it; SecretMem fails closed without it.
func Open(b Backing) (*Vault, error) {
	switch b {
	case Locked:
	case SecretMem:
		if !HaveSecretMem() {
			return nil, ErrNoSecretMem
		}
	case Auto, "":
		b = Locked
		if HaveSecretMem() {
			b = SecretMem
		}
	default:
		return nil, fmt.Errorf("vault backing %q: want auto, secretmem or locked", b)
	}
	return &Vault{backing: b}, nil
}

// Backing is the memory this vault's arenas are made of.
func (v *Vault) Backing() Backing { return v.backing }

func (v *Vault) isClosed() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.closed
}

// Locked is the number of bytes the vault holds locked.
func (v *Vault) Locked() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.locked
}

// Secrets lists the secrets loaded so far, in load order.
func (v *Vault) Secrets() []*Secret {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return append([]*Secret(nil), v.secrets...)
}

// View calls fn with the secret's bytes while holding the vault open. fn must
// not keep b, copy it to the heap or block: Close waits for it.
func (v *Vault) View(s *Secret, fn func(b []byte)) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return ErrClosed
	}
	fn(s.a.data[s.off : s.off+s.n : s.off+s.n])
	return nil
}

// Close wipes every arena, verifies the wipe, unlocks and unmaps. It is
// idempotent: later calls return the first call's result.
func (v *Vault) Close() (wiped int, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return v.wiped, v.wipeErr
	}
	v.closed = true
	var errs []error
	for _, a := range v.arenas {
		n, err := a.destroy()
		v.wiped += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	v.arenas, v.secrets, v.locked = nil, nil, 0
	v.wipeErr = errors.Join(errs...)
	return v.wiped, v.wipeErr
}

// region is a reserved span of an arena being filled.
type region struct {
	a        *arena
	off, cap int
}

func (r region) bytes() []byte { return r.a.data[r.off : r.off+r.cap : r.off+r.cap] }

// reserve finds n free bytes at the tail of an arena, mapping a new one when
// none has room. Callers hold v.mu.
func (v *Vault) reserve(n int) (region, error) {
	for _, a := range v.arenas {
		if len(a.data)-a.used >= n {
			return v.take(a, n), nil
		}
	}
	a, err := newArena(n, v.backing)
	if err != nil {
		var le *LockError
		if errors.As(err, &le) {
			le.Locked = v.locked
			le.Limit, le.Hard = memlockLimits()
		}
		return region{}, err
	}
	v.arenas = append(v.arenas, a)
	v.locked += len(a.data)
	return v.take(a, n), nil
}

func (v *Vault) take(a *arena, n int) region {
	r := region{a: a, off: a.used, cap: n}
	a.used += n
	a.live++
	return r
}

// grow tries to extend r in place; it succeeds when r is its arena's tail
// and the arena has room.
func (v *Vault) grow(r *region, n int) bool {
	if r.off+r.cap != r.a.used || r.off+n > len(r.a.data) {
		return false
	}
	r.a.used = r.off + n
	r.cap = n
	return true
}

// release wipes r and gives its bytes back when it is the arena's tail; an
// arena left with no regions is destroyed so its locked pages return.
func (v *Vault) release(r region) {
	wipe(r.bytes())
	if r.off+r.cap == r.a.used {
		r.a.used = r.off
	}
	r.a.live--
	if r.a.live > 0 {
		return
	}
	for i, a := range v.arenas {
		if a == r.a {
			v.arenas = append(v.arenas[:i], v.arenas[i+1:]...)
			break
		}
	}
	v.locked -= len(r.a.data)
	_, _ = r.a.destroy()
}

// shrink gives back the unused tail of r after a secret of n bytes.
func (v *Vault) shrink(r *region, n int) {
	wipe(r.bytes()[n:])
	if r.off+r.cap == r.a.used {
		r.a.used = r.off + n
	}
	r.cap = n
}

// memlockLimits returns RLIMIT_MEMLOCK's soft and hard limits, -1 for
// unlimited or unknown.
func memlockLimits() (soft, hard int64) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return -1, -1
	}
	limit := func(v uint64) int64 {
		if v == unix.RLIM_INFINITY {
			return -1
		}
		return int64(v)
	}
	return limit(rl.Cur), limit(rl.Max)
}
