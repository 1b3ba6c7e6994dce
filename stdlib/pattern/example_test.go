package pattern_test

import (
	"fmt"
	"strings"

	"github.com/pushlua/pushlua/stdlib/pattern"
)

func ExampleFind() {
	s := "user=11@3"
	m, ok, err := pattern.Find(s, "^(%w+)=(.+)$", 0)
	if err != nil || !ok {
		fmt.Println(ok, err)
		return
	}
	for _, c := range m.Captures {
		fmt.Println(s[c.Start:c.End])
	}
	// Output:
	// user
	// 11@3
}

func ExampleFind_error() {
	_, _, err := pattern.Find("a", "[a", 0)
	fmt.Println(err)
	// Output: malformed pattern (missing ']')
}

func ExampleNewIterator() {
	s := "w=200&h=150"
	it := pattern.NewIterator(s, "(%w+)=(%w+)")
	for {
		m, ok, err := it.Next()
		if err != nil || !ok {
			break
		}
		k, v := m.Captures[0], m.Captures[1]
		fmt.Println(s[k.Start:k.End], s[v.Start:v.End])
	}
	// Output:
	// w 200
	// h 150
}

func ExampleGsub() {
	s := "hello world from Lua"
	r, n, err := pattern.Gsub(s, "(%w+)", -1, func(m pattern.Match) (string, bool, error) {
		word := s[m.Start:m.End]
		if word == "from" {
			return "", true, nil // keep it
		}
		return strings.ToUpper(word[:1]) + word[1:], false, nil
	})
	fmt.Println(r, n, err)
	// Output: Hello World from Lua 4 <nil>
}

func ExampleExpand() {
	s := "hello world"
	r, n, err := pattern.Gsub(s, "(%w+) (%w+)", -1, func(m pattern.Match) (string, bool, error) {
		r, err := pattern.Expand("%2 %1 (%0)", s, m)
		return r, false, err
	})
	fmt.Println(r, n, err)
	// Output: world hello (hello world) 1 <nil>
}
