//go:build unix

package vault

import (
	"bytes"
	"strconv"
	"testing"
)

// BenchmarkWipe is the vault's wipe as Close runs it: zero a 1 MiB arena,
// then read it back. Compare its MB/s with BenchmarkClear's.
func BenchmarkWipe(b *testing.B) {
	a, err := newArena(1<<20, Locked)
	if err != nil {
		b.Skipf("cannot lock 1 MiB (raise ulimit -l): %v", err)
	}
	defer a.destroy()
	b.SetBytes(int64(len(a.data)))
	for b.Loop() {
		if !wipeVerified(a.data) {
			b.Fatal("wipe left a non-zero byte")
		}
	}
}

// BenchmarkClear is plain clear() over a heap buffer of the same size: no
// read-back, the floor the wipe is measured against.
func BenchmarkClear(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		clear(buf)
	}
}

// BenchmarkWipeBlocks is the wipe in blocks of each size: how the size of
// zeroBlock was chosen.
func BenchmarkWipeBlocks(b *testing.B) {
	zeros := make([]byte, 16<<10)
	for _, n := range []int{256, 1024, 4096, 16384} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			a, err := newArena(1<<20, Locked)
			if err != nil {
				b.Skipf("cannot lock 1 MiB (raise ulimit -l): %v", err)
			}
			defer a.destroy()
			b.SetBytes(int64(len(a.data)))
			for b.Loop() {
				for d := a.data; len(d) > 0; d = d[n:] {
					clear(d[:n])
					if !bytes.Equal(d[:n], zeros[:n]) {
						b.Fatal("wipe left a non-zero byte")
					}
				}
			}
		})
	}
}
