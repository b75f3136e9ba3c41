//go:build linux

package launcher

import (
	"fmt"
	"os"

	"github.com/ningen-shikkaku/ningen/vault"
	"golang.org/x/sys/unix"
)

// sealAll is every seal: the child can read the memfd as often as it likes
// and can neither change, grow, shrink nor unseal it.
const sealAll = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// memfdDelivery copies the secret into a sealed memfd. Its pages are
// shmem: swappable where swap exists, and freed, not zeroed, by the kernel.
func memfdDelivery(name string, v *vault.Vault, s *vault.Secret) (*os.File, error) {
	fd, err := unix.MemfdCreate("ningen-"+name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := fillFD(fd, v, s); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd for %s: %w", name, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sealAll); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd for %s: %w", name, err)
	}
	// The child shares this open file, offset included: rewind it, so a
	// plain read to the end gets the whole value.
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("rewind memfd for %s: %w", name, err)
	}
	return f, nil
}

// secretmemDelivery hands the child a memfd_secret descriptor sized to the
// secret: it must mmap it to read (read(2) fails on such memory). ningen
// fills it through its own short-lived mapping; the kernel zeroes the pages
// when the last user goes.
func secretmemDelivery(name string, v *vault.Vault, s *vault.Secret) (*os.File, error) {
	fd, err := unix.MemfdSecret(unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_secret for %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "secretmem:"+name)
	if err := unix.Ftruncate(fd, int64(s.Len())); err != nil {
		f.Close()
		return nil, fmt.Errorf("size memfd_secret for %s: %w", name, err)
	}
	m, err := unix.Mmap(fd, 0, s.Len(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("map memfd_secret for %s: %w", name, err)
	}
	err = v.View(s, func(b []byte) { copy(m, b) })
	_ = unix.Munmap(m) // the child's view is the same memory: do not zero it
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func fillFD(fd int, v *vault.Vault, s *vault.Secret) error {
	var werr error
	err := v.View(s, func(b []byte) {
		for len(b) > 0 && werr == nil {
			var n int
			n, werr = unix.Write(fd, b)
			b = b[n:]
		}
	})
	if err != nil {
		return err
	}
	return werr
}
