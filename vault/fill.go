//go:build unix

package vault

import (
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// firstRead is how much a source of unknown size gets before it must grow.
const firstRead = 256

// fill reads r to its end straight into arena memory, growing the region by
// doubling, and stores the result as a secret. hint is the expected size, or
// 0 when unknown. Every byte that does not end up in the secret is zeroed.
func (v *Vault) fill(name string, r io.Reader, hint int, o LoadOptions) (*Secret, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	limit := o.MaxSize + 2 // room for a trailing "\r\n" on a value at the limit
	size := min(firstRead, limit)
	if hint > 0 {
		size = min(hint+1, limit+1) // +1 sees EOF without growing
	}
	reg, err := v.reserve(size)
	if err != nil {
		return nil, err
	}
	n, err := v.readInto(&reg, r, limit)
	if err != nil {
		v.release(reg)
		return nil, err
	}
	if !o.Raw {
		n = trimNewline(reg.bytes()[:n])
	}
	switch {
	case n == 0:
		err = ErrEmpty
	case n > o.MaxSize:
		err = fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, o.MaxSize)
	}
	if err != nil {
		v.release(reg)
		return nil, err
	}
	v.shrink(&reg, n)
	s := &Secret{Name: name, a: reg.a, off: reg.off, n: n}
	v.secrets = append(v.secrets, s)
	return s, nil
}

// readInto reads until EOF, growing reg as needed, and fails once more than
// limit bytes have arrived.
func (v *Vault) readInto(reg *region, r io.Reader, limit int) (int, error) {
	n := 0
	for {
		if n == reg.cap {
			if n > limit {
				return n, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, limit-2)
			}
			if err := v.regrow(reg, min(2*reg.cap, limit+1), n); err != nil {
				return n, err
			}
		}
		m, err := r.Read(reg.bytes()[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// regrow makes reg hold size bytes, in place when it can, otherwise by
// moving the first n bytes to a new region and wiping the old one.
func (v *Vault) regrow(reg *region, size, n int) error {
	if v.grow(reg, size) {
		return nil
	}
	next, err := v.reserve(size)
	if err != nil {
		return err
	}
	copy(next.bytes(), reg.bytes()[:n])
	v.release(*reg)
	*reg = next
	return nil
}

// trimNewline drops one trailing "\n" or "\r\n", zeroing it, and returns the
// new length.
func trimNewline(b []byte) int {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		n--
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	}
	clear(b[n:])
	return n
}

// drop removes a secret loaded by a source that then failed.
func (v *Vault) drop(s *Secret) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	for i, t := range v.secrets {
		if t == s {
			v.secrets = append(v.secrets[:i], v.secrets[i+1:]...)
			break
		}
	}
	v.release(region{a: s.a, off: s.off, cap: s.n})
}

// scrub overwrites the bytes of s in place. It is only ever called on
// strings from ningen's environment, which live in the writable initial
// environment block (or on the heap, after os.Setenv): never in read-only
// data. This is the one place ningen writes through a string.
func scrub(s string) {
	if len(s) == 0 {
		return
	}
	clear(unsafe.Slice(unsafe.StringData(s), len(s)))
}
