package dconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSize parses a size setting: a decimal number of bytes, optionally
// followed by spaces and a unit B, K, M, G or T (case-insensitive, powers
// of 1024, with an optional "B" or "iB": "64M", "64 MiB", "65536").
func ParseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: expected a number of bytes with an optional unit (B, K, M, G, T)", v)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", v, err)
	}
	rest := strings.TrimLeft(s[i:], " ")
	unit := strings.ToUpper(rest)
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20,
		"G": 30, "GB": 30, "GIB": 30, "T": 40, "TB": 40, "TIB": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, K, M, G or T)", v, rest)
	}
	if n > math.MaxInt64>>sh {
		return 0, fmt.Errorf("invalid size %q: too large", v)
	}
	return n << sh, nil
}
