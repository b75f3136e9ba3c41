//go:build linux

package vault

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HaveSecretMem reports whether this kernel offers memfd_secret.
var HaveSecretMem = sync.OnceValue(func() bool {
	fd, err := unix.MemfdSecret(unix.O_CLOEXEC)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// mapSecret replaces the anonymous pages of data, which must be page
// aligned inside a reservation ningen owns, with memfd_secret pages of the
// same size. The descriptor is closed at once: the mapping keeps the memory
// alive and nothing else can reach it. The kernel counts these pages
// against RLIMIT_MEMLOCK, so a refusal there is a LockError too.
func mapSecret(data []byte) error {
	fd, err := unix.MemfdSecret(unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("memfd_secret: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
		return fmt.Errorf("size memfd_secret to %d bytes: %w", len(data), err)
	}
	// MAP_FIXED over a range this arena reserved a moment ago: sound, since
	// nothing else in the process can have a mapping there.
	addr := unsafe.Pointer(unsafe.SliceData(data))
	_, err = unix.MmapPtr(fd, 0, addr, uintptr(len(data)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED)
	if errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EPERM) {
		return &LockError{Need: len(data), Err: fmt.Errorf("memfd_secret pages count against RLIMIT_MEMLOCK: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("map memfd_secret: %w", err)
	}
	return nil
}
