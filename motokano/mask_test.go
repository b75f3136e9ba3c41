package motokano

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/ningen-shikkaku/ningen/vault"
)

// testVault holds values as secrets, assembled in locked memory by Join.
func testVault(t testing.TB, values ...string) (*vault.Vault, []*vault.Secret) {
	t.Helper()
	v := vault.New()
	t.Cleanup(func() { _, _ = v.Close() })
	var ss []*vault.Secret
	for i, val := range values {
		s, err := v.Join("S"+string(rune('A'+i)), []vault.Part{{Text: val}})
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	return v, ss
}

// naiveMask is the reference: at each position, the longest value that
// starts there is replaced; otherwise the byte passes.
func naiveMask(in []byte, values []string) []byte {
	var out []byte
	for i := 0; i < len(in); {
		best := 0
		for _, v := range values {
			if len(v) > best && bytes.HasPrefix(in[i:], []byte(v)) {
				best = len(v)
			}
		}
		if best > 0 {
			out = append(out, maskText...)
			i += best
			continue
		}
		out = append(out, in[i])
		i++
	}
	return out
}

func maskChunks(t testing.TB, m *masker, in []byte, cuts []int) []byte {
	t.Helper()
	for _, c := range cuts {
		c = min(c, len(in))
		if _, err := m.Write(in[:c]); err != nil {
			t.Fatal(err)
		}
		in = in[c:]
	}
	if _, err := m.Write(in); err != nil {
		t.Fatal(err)
	}
	out, err := m.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMask(t *testing.T) {
	secret := randomSecret(t)
	v, ss := testVault(t, secret, "abcabc", "abc")
	for _, c := range []struct {
		name string
		in   string
		cuts []int
		want string
	}{
		{"whole", "token=" + secret + "\n", nil, "token=***\n"},
		{"split in the middle", "token=" + secret + "\n", []int{10}, "token=***\n"},
		{"split every byte", "x" + secret + "y", ones(len(secret) + 2), "x***y"},
		{"twice", secret + secret, []int{len(secret) + 3}, "******"},
		{"longest at a position", "abcabcabc", nil, "******"},
		{"prefix at the end stays", "abca", nil, "***a"},
		{"nothing", "hello", []int{1, 1}, "hello"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := maskChunks(t, newMasker(v, ss, 1<<20), []byte(c.in), c.cuts)
			if string(got) != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestMaskLimit(t *testing.T) {
	v, ss := testVault(t, "SECRET")
	m := newMasker(v, ss, 8)
	out := maskChunks(t, m, []byte("ab SECRET cd SECRET"), nil)
	if string(out) != "ab *** c" || !m.cut {
		t.Errorf("got %q cut=%v, want %q cut", out, m.cut, "ab *** c")
	}
}

func TestMaskHoldsBackAndZeroes(t *testing.T) {
	v, ss := testVault(t, "0123456789")
	m := newMasker(v, ss, 1<<20)
	if _, err := m.Write([]byte("hello 01234")); err != nil {
		t.Fatal(err)
	}
	if string(m.out) != "he" {
		t.Errorf("emitted %q before the value could be ruled out, want %q", m.out, "he")
	}
	out, err := m.Close()
	if err != nil || string(out) != "hello 01234" {
		t.Errorf("Close = %q, %v", out, err)
	}
	raw := m.buf[:cap(m.buf)]
	for i, b := range raw {
		if b != 0 {
			t.Fatalf("raw buffer byte %d is %#x after Close", i, b)
		}
	}
}

func TestMaskClosedVault(t *testing.T) {
	v, ss := testVault(t, "SECRET")
	m := newMasker(v, ss, 1<<20)
	_, _ = v.Close()
	if _, err := m.Write([]byte("SECRET and more, more than the value is long")); err == nil {
		t.Fatal("masking went on with a closed vault")
	}
	if out, _ := m.Close(); bytes.Contains(out, []byte("SECRET")) {
		t.Errorf("output %q holds the value", out)
	}
}

func ones(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = 1
	}
	return c
}

func randomSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "fake-" + hex.EncodeToString(b)
}

// FuzzMask checks the streaming masker against naiveMask, with values and
// chunk boundaries taken from the input.
func FuzzMask(f *testing.F) {
	f.Add([]byte("abab"), []byte("ab"), []byte("b"), []byte{1, 2, 3})
	f.Add([]byte("xxSECRETxxSECRxxSECRET"), []byte("SECRET"), []byte("ECR"), []byte{3, 1})
	f.Add([]byte("aaaaaaa"), []byte("aaa"), []byte("aa"), []byte{})
	f.Fuzz(func(t *testing.T, in, a, b, cuts []byte) {
		var values []string
		for _, s := range [][]byte{a, b} {
			if len(s) > 0 && len(s) <= 64 {
				values = append(values, string(s))
			}
		}
		if len(values) == 0 || len(in) > 4096 {
			return
		}
		v, ss := testVault(t, values...)
		var cs []int
		for _, c := range cuts {
			cs = append(cs, int(c))
		}
		got := maskChunks(t, newMasker(v, ss, 1<<20), in, cs)
		if want := naiveMask(in, values); !bytes.Equal(got, want) {
			t.Fatalf("mask(%q, %q, cuts %v)\n got %q\nwant %q", in, values, cs, got, want)
		}
	})
}
