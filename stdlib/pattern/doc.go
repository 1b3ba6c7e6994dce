// Package pattern is a VM-free implementation of Lua 5.2 string patterns,
// the language of string.find, string.match, string.gmatch and string.gsub,
// with the semantics and error messages of Lua 5.2's lstrlib.c.
//
// It owns the matcher and nothing else: the Lua functions are in
// stdlib/strlib, which converts arguments and pushes results. The package
// never imports the Lua VM, so it can be tested and fuzzed on its own.
//
// # Language
//
// A pattern is a sequence of items: a single character class (a literal
// byte, '.', %a %c %d %g %l %p %s %u %w %x and their upper-case
// complements, %z for the zero byte, %<non-alphanumeric> for that byte
// literally, or a set [...] with ranges, classes and a leading '^' for the
// complement) optionally followed by '*', '+', '-' or '?'; a capture
// (...) or a position capture (); a back-reference %1-%9; a balance %bxy;
// a frontier %f[set]. A '^' at the start of the pattern anchors the match
// at the initial position (Find and Gsub; Gmatch treats it as a literal,
// as Lua does) and a '$' at its end anchors it at the end of the subject.
// Classes use the C locale: they test bytes, and bytes from 128 to 255
// belong to no class but their complements.
//
// Errors are reported as Lua reports them, lazily: a malformed part of a
// pattern is an error only once the matcher reaches it, so
// Find("b", "a[", 0) reports no match, not a missing ']'.
//
// # Positions
//
// All positions are 0-based byte offsets into the subject: a match is
// s[Start:End], a substring capture s[c.Start:c.End], and a position
// capture has Start == End == the offset (Lua shows it as Start+1).
//
// # Limits
//
// Like Lua, a match nests at most 200 levels of backtracking (MAXCCALLS)
// and holds at most 32 captures (LUA_MAXCAPTURES). Unlike Lua, the total
// work of one operation (one Find, one Gsub, all the calls of one
// Iterator) is also bounded: a budget of steps proportional to
// len(subject)*len(pattern), at least MinSteps and at most MaxSteps (a
// step takes a few nanoseconds, so MaxSteps is about a tenth of a
// second), so that backtracking-heavy patterns such as "a-a-a-a-a-a-a-a-b"
// end with ErrTooComplex instead of running for hours. Ordinary patterns
// use a few steps per subject byte; what the budget refuses is
// backtracking that grows faster than len(subject)*len(pattern), including
// the quadratic search of an unanchored ".-x" through a long subject
// without an x.
package pattern
