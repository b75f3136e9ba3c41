//go:build unix && !linux

package launcher

import (
	"errors"
	"os"

	"github.com/ningen-shikkaku/ningen/vault"
)

var errLinuxOnly = errors.New("memfd and secretmem delivery need Linux")

func memfdDelivery(string, *vault.Vault, *vault.Secret) (*os.File, error) {
	return nil, errLinuxOnly
}

func secretmemDelivery(string, *vault.Vault, *vault.Secret) (*os.File, error) {
	return nil, errLinuxOnly
}
