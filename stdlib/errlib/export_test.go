package errlib

import lua "github.com/Shopify/go-lua"

// What the external tests (errors_test.go, which uses stdtest, which
// imports this package) need of the internals.

const ErrorValuesKept = errorValuesKept

var (
	PushErrorValues    = pushErrorValues
	AbsoluteStackIndex = absoluteStackIndex
)

// SetXpcallStackIndex replaces xpcallStackIndex and returns the function
// that restores it.
func SetXpcallStackIndex(f func(*lua.State, int) (int, bool)) (restore func()) {
	xpcallStackIndex = f
	return func() { xpcallStackIndex = absoluteStackIndex }
}
