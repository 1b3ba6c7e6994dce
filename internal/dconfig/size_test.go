package dconfig

import "testing"

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"65536", 65536, true}, {"64M", 64 << 20, true}, {"64 MiB", 64 << 20, true}, {"1g", 1 << 30, true},
		{"2 KB", 2048, true}, {"0", 0, true}, {"", 0, false}, {"M", 0, false}, {"5 parsecs", 0, false},
		{"9999999999T", 0, false},
	} {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
