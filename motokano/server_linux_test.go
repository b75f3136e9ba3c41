//go:build linux

package motokano

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteStaticSlowReader writes a value larger than the socket buffer
// to a client that reads a little at a time: the writes stop at EAGAIN,
// the vault is let go, and the value arrives byte for byte.
func TestWriteStaticSlowReader(t *testing.T) {
	value := strings.Repeat("abc\"\\\n", 1<<15) + randomSecret(t)
	v, ss := testVault(t, value)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(pair[0], true); err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	w, r := os.NewFile(uintptr(pair[0]), "w"), os.NewFile(uintptr(pair[1]), "r")
	defer r.Close()
	got := make(chan []byte)
	go func() {
		var out bytes.Buffer
		buf := make([]byte, 977)
		for {
			n, err := r.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				got <- out.Bytes()
				return
			}
		}
	}()
	s := &Server{o: Options{Vault: v}}
	if err := s.writeStatic(w, json.RawMessage("7"), ss[0]); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	line := <-got
	var resp struct {
		ID     int    `json:"id"`
		Result Result `json:"result"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	if resp.ID != 7 || len(resp.Result.Content) != 1 || resp.Result.Content[0].Text != value || resp.Result.IsError {
		t.Errorf("reply id %d, %d contents, value intact %v", resp.ID, len(resp.Result.Content), resp.Result.Content[0].Text == value)
	}
}

// TestWriteStaticClosedVault: once the vault is wiped, nothing of the value
// can be written.
func TestWriteStaticClosedVault(t *testing.T) {
	v, ss := testVault(t, "SECRET")
	_, _ = v.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.SetNonblock(pair[0], true)
	w, r := os.NewFile(uintptr(pair[0]), "w"), os.NewFile(uintptr(pair[1]), "r")
	defer r.Close()
	s := &Server{o: Options{Vault: v}}
	if err := s.writeStatic(w, json.RawMessage("1"), ss[0]); err == nil {
		t.Error("wrote a value from a closed vault")
	}
	_ = w.Close()
	out, _ := io.ReadAll(r)
	if bytes.Contains(out, []byte("SECRET")) {
		t.Errorf("the socket got %q", out)
	}
}
