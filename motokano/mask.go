package motokano

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"github.com/ningen-shikkaku/ningen/vault"
)

// maskText replaces each secret value found in a tool's output.
const maskText = "***"

// readSize is how much of a tool's stdout one read takes.
const readSize = 32 << 10

// masker masks every secret value in a stream, including a value split
// across reads: it decides about a byte only once maxLen bytes from it are
// in hand (or the stream has ended), so it holds back up to maxLen-1 bytes
// between reads. Where values overlap, the leftmost match wins and, at one
// position, the longest. Values are compared in vault memory, through
// Vault.View; the raw output lives only in buf, which has a fixed capacity
// (never reallocated, so never copied) and is zeroed by Close.
type masker struct {
	v       *vault.Vault
	secrets []*vault.Secret
	maxLen  int
	buf     []byte // raw output not yet decided on
	out     []byte // masked output, at most limit bytes
	limit   int
	cut     bool // output beyond limit was dropped
	matches []match
}

type match struct{ at, n int }

func newMasker(v *vault.Vault, secrets []*vault.Secret, limit int) *masker {
	m := &masker{v: v, limit: limit, maxLen: 1}
	for _, s := range secrets {
		if s.Len() > 0 {
			m.secrets = append(m.secrets, s)
			m.maxLen = max(m.maxLen, s.Len())
		}
	}
	m.buf = make([]byte, 0, readSize+m.maxLen)
	return m
}

// ReadFrom reads r to its end, masking as it goes. An error other than EOF
// (a deadline, a closed vault) ends it; what was read so far stays in hand
// for Close.
func (m *masker) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		n, err := r.Read(m.buf[len(m.buf):cap(m.buf)])
		m.buf = m.buf[:len(m.buf)+n]
		total += int64(n)
		if perr := m.process(false); perr != nil {
			return total, perr
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Write feeds p to the masker (for tests and the fuzzer; ReadFrom avoids
// the copy).
func (m *masker) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := copy(m.buf[len(m.buf):cap(m.buf)], p)
		m.buf = m.buf[:len(m.buf)+n]
		p = p[n:]
		if err := m.process(false); err != nil {
			return total - len(p), err
		}
	}
	return total, nil
}

// Close decides on the held-back tail, zeroes the raw buffer and returns
// the masked output.
func (m *masker) Close() ([]byte, error) {
	err := m.process(true)
	clear(m.buf[:cap(m.buf)])
	m.buf = m.buf[:0]
	return m.out, err
}

// process emits every byte it can decide on and keeps the rest in buf.
func (m *masker) process(eof bool) error {
	end := len(m.buf)
	if !eof {
		end -= m.maxLen - 1
	}
	if end <= 0 {
		return nil
	}
	if err := m.find(end); err != nil {
		m.discard()
		return err
	}
	i := 0
	for _, mt := range m.matches {
		if mt.at < i {
			continue // inside a match already taken
		}
		m.emit(m.buf[i:mt.at])
		m.emit([]byte(maskText))
		i = mt.at + mt.n
	}
	if i < end {
		m.emit(m.buf[i:end])
		i = end
	}
	rest := copy(m.buf, m.buf[i:])
	clear(m.buf[rest:len(m.buf)])
	m.buf = m.buf[:rest]
	return nil
}

// find lists every match starting before end, sorted by position and, at
// one position, longest first. Only positions are kept, never bytes.
func (m *masker) find(end int) error {
	m.matches = m.matches[:0]
	for _, s := range m.secrets {
		err := m.v.View(s, func(val []byte) {
			for off := 0; off < end; {
				i := bytes.Index(m.buf[off:], val)
				if i < 0 || off+i >= end {
					break
				}
				m.matches = append(m.matches, match{off + i, len(val)})
				off += i + 1
			}
		})
		if err != nil {
			return err
		}
	}
	slices.SortFunc(m.matches, func(a, b match) int {
		if a.at != b.at {
			return a.at - b.at
		}
		return b.n - a.n
	})
	return nil
}

func (m *masker) emit(b []byte) {
	room := m.limit - len(m.out)
	if len(b) > room {
		b = b[:max(room, 0)]
		m.cut = true
	}
	m.out = append(m.out, b...)
}

// discard drops everything held when masking cannot go on (the vault is
// closed): nothing unmasked may come out.
func (m *masker) discard() {
	clear(m.buf[:cap(m.buf)])
	m.buf = m.buf[:0]
}
