package conformance

import "testing"

// TestNormalize: the reload comparison leaves ids out, whatever digits
// they happen to have, and keeps plain numbers.
func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// The forwarder's request ids: <pid>-<ticks>-<uniq8>-h<n>; a uniq8
		// of decimal digits only made two loads differ 1 run in 5.
		{`{"id":"4711-123456-01234567-h1"}`, `{"id":"<id>h1"}`},
		{`{"id":"4711-123456-0a1b2c3d-h1"}`, `{"id":"<id>h1"}`},
		{"uidvalidity 1795978712", "uidvalidity 1795978712"},
		{"txn 0a1b2c3d4e", "txn <id>"},
		{"took 12ms", "took <duration>"},
	} {
		if got := normalize(tc.in); got != tc.want {
			t.Errorf("normalize(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
