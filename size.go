package main

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a size flag: a number of bytes with an optional K, KiB, M or
// MiB suffix (powers of 1024).
type ByteSize int

// UnmarshalText parses 64KiB, 2M, 1048576.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (1<<30)/mult {
		return fmt.Errorf("size %q: want a positive number of bytes up to 1GiB, like 65536, 64KiB or 2MiB", text)
	}
	*b = ByteSize(n * mult)
	return nil
}
