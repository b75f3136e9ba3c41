//go:build unix

package vault

// Part is one piece of a composed secret: literal text, or another secret.
type Part struct {
	Text   string  // used when Secret is nil
	Secret *Secret // a secret already in this vault
}

// Join stores the concatenation of parts as a new secret named name,
// assembled directly in locked memory (a template such as
// "Bearer {{secret:API_TOKEN}}"). It is wiped with the rest of the vault.
func (v *Vault) Join(name string, parts []Part) (*Secret, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	n := 0
	for _, p := range parts {
		if p.Secret != nil {
			n += p.Secret.n
		} else {
			n += len(p.Text)
		}
	}
	if n == 0 {
		return nil, ErrEmpty
	}
	reg, err := v.reserve(n)
	if err != nil {
		return nil, err
	}
	dst := reg.bytes()
	off := 0
	for _, p := range parts {
		if p.Secret != nil {
			off += copy(dst[off:], p.Secret.a.data[p.Secret.off:p.Secret.off+p.Secret.n])
		} else {
			off += copy(dst[off:], p.Text)
		}
	}
	s := &Secret{Name: name, a: reg.a, off: reg.off, n: n}
	v.secrets = append(v.secrets, s)
	return s, nil
}
