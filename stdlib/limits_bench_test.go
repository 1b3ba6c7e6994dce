package stdlib

import (
	"testing"

	lua "github.com/Shopify/go-lua"
)

// The library functions that charge the memory budget, on the inputs a
// push script gives them. Compare with the commit before the budget:
//
//	go test ./stdlib -run '^$' -bench 'Lib' -benchmem -count 5
func BenchmarkLib(b *testing.B) {
	for _, c := range []struct{ name, setup, body string }{
		{"format", ``, `local s = string.format("%s:%d %q", "user@example.com", 42, "Hello \"world\"")`},
		{"rep", ``, `local s = string.rep("ab", 100)`},
		{"concat10", `t = {} for i = 1, 10 do t[i] = "field" .. i end`, `local s = table.concat(t, ",")`},
		{"concat1000", `t = {} for i = 1, 1000 do t[i] = "field" .. i end`, `local s = table.concat(t, ",")`},
		{"insert", `t = {}`, `table.insert(t, 1) if #t == 1000 then t = {} end`},
		{"gsub", ``, `local s = string.gsub("hello world, hello moon", "o", "0")`},
		{"cjson.encode", `cjson = require("cjson") v = {user = "u@example.com", folder = "INBOX", uid = 7, unseen = 3, flags = {"\\Seen", "$Label1"}}`,
			`local s = cjson.encode(v)`},
	} {
		b.Run(c.name, func(b *testing.B) {
			env := benchEnv()
			l := lua.NewState()
			lua.OpenLibraries(l)
			Open(l, env)
			if err := lua.DoString(l, c.setup); err != nil {
				b.Fatal(err)
			}
			if err := lua.LoadString(l, c.body); err != nil {
				b.Fatal(err)
			}
			fn := l.Top()
			b.ReportAllocs()
			for b.Loop() {
				benchReset(env)
				l.PushValue(fn)
				l.Call(0, 0)
			}
		})
	}
}
