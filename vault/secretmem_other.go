//go:build unix && !linux

package vault

// HaveSecretMem is false: memfd_secret is Linux only.
func HaveSecretMem() bool { return false }

func mapSecret([]byte) error { return ErrNoSecretMem }
