package pattern

// Character classes of the C locale, as <ctype.h> defines them for bytes.
const (
	clAlpha uint16 = 1 << iota
	clCntrl
	clDigit
	clGraph
	clLower
	clPunct
	clSpace
	clUpper
	clAlnum
	clXDigit
)

// ctype holds the class bits of every byte.
var ctype = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		var bits uint16
		lower := 'a' <= c && c <= 'z'
		upper := 'A' <= c && c <= 'Z'
		digit := '0' <= c && c <= '9'
		graph := 0x21 <= c && c <= 0x7e
		if lower || upper {
			bits |= clAlpha
		}
		if c < 0x20 || c == 0x7f {
			bits |= clCntrl
		}
		if digit {
			bits |= clDigit
		}
		if graph {
			bits |= clGraph
		}
		if lower {
			bits |= clLower
		}
		if graph && !lower && !upper && !digit {
			bits |= clPunct
		}
		if c == ' ' || ('\t' <= c && c <= '\r') {
			bits |= clSpace
		}
		if upper {
			bits |= clUpper
		}
		if lower || upper || digit {
			bits |= clAlnum
		}
		if digit || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') {
			bits |= clXDigit
		}
		t[c] = bits
	}
	return t
}()

// classBits maps the lower-case class letters to their bits; 'z' (the zero
// byte, deprecated in Lua 5.2) is handled apart.
var classBits = [256]uint16{
	'a': clAlpha, 'c': clCntrl, 'd': clDigit, 'g': clGraph, 'l': clLower,
	'p': clPunct, 's': clSpace, 'u': clUpper, 'w': clAlnum, 'x': clXDigit,
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// matchClass reports whether byte c belongs to the class written %cl, like
// lstrlib's match_class: a letter names a class (upper case for the
// complement); any other byte stands for itself.
func matchClass(c, cl byte) bool {
	lower := cl
	if 'A' <= cl && cl <= 'Z' {
		lower = cl + ('a' - 'A')
	}
	var res bool
	switch {
	case lower == 'z':
		res = c == 0
	case classBits[lower] != 0:
		res = ctype[c]&classBits[lower] != 0
	default:
		return cl == c
	}
	if 'a' <= cl && cl <= 'z' {
		return res
	}
	return !res
}
