//go:build linux

package vault

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// scrubInitialEnv zeroes the value of key in the environment block the
// kernel laid out at exec, which /proc/PID/environ reads. The Go runtime
// copied the block at start, so this is the only place the original lives.
// The block is found from env_start/env_end in /proc/self/stat and written
// with process_vm_writev on ningen itself, which works while ningen is
// non-dumpable and needs no pointer made from an integer. Best effort: the
// variable is removed from the child's environment either way.
func scrubInitialEnv(key string) {
	start, end, ok := envBlock()
	if !ok || end <= start {
		return
	}
	block := make([]byte, end-start)
	pid := os.Getpid()
	local := []unix.Iovec{{Base: &block[0]}}
	local[0].SetLen(len(block))
	remote := []unix.RemoteIovec{{Base: start, Len: len(block)}}
	if n, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || n != len(block) {
		return
	}
	prefix := []byte(key + "=")
	for off := 0; off < len(block); {
		entry := block[off:]
		if i := bytes.IndexByte(entry, 0); i >= 0 {
			entry = entry[:i]
		}
		if bytes.HasPrefix(entry, prefix) && len(entry) > len(prefix) {
			zeroRemote(pid, start+uintptr(off+len(prefix)), len(entry)-len(prefix))
		}
		off += len(entry) + 1
	}
	clear(block)
}

func zeroRemote(pid int, addr uintptr, n int) {
	zeros := make([]byte, n)
	local := []unix.Iovec{{Base: &zeros[0]}}
	local[0].SetLen(n)
	_, _ = unix.ProcessVMWritev(pid, local, []unix.RemoteIovec{{Base: addr, Len: n}}, 0)
}

// envBlock reads env_start and env_end, fields 50 and 51 of
// /proc/self/stat (counted from 1; the command name may hold spaces, so
// count after the last ')').
func envBlock() (start, end uintptr, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 49 {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(f[47]), 10, 64)
	e, err2 := strconv.ParseUint(string(f[48]), 10, 64)
	return uintptr(s), uintptr(e), err1 == nil && err2 == nil
}
