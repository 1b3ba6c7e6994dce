package oslib

import (
	"bytes"
	"fmt"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/mathlib"
	"github.com/pushlua/pushlua/stdlib/utf8lib"
	"os/exec"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin and America/New_York on any machine
)

// osT0 is Tuesday 2024-03-05 14:07:09 UTC.
const osT0 = 1709647629

// osWithZone sets the local zone of os.date and os.time for one test.
func osWithZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	osLocation = loc
	t.Cleanup(func() { osLocation = nil })
	return loc
}

// osFixedEnv is a host whose clock stands at sec.
func osFixedEnv(sec int64) *luax.StaticHost {
	return &luax.StaticHost{Clock: func() time.Time { return time.Unix(sec, 0) }}
}

func TestOSDateConversions(t *testing.T) {
	tests := []struct{ format, want string }{
		{"%a", "Tue"}, {"%A", "Tuesday"}, {"%b", "Mar"}, {"%B", "March"},
		{"%c", "Tue Mar  5 14:07:09 2024"}, {"%C", "20"}, {"%d", "05"},
		{"%D", "03/05/24"}, {"%e", " 5"}, {"%F", "2024-03-05"}, {"%g", "24"},
		{"%G", "2024"}, {"%h", "Mar"}, {"%H", "14"}, {"%I", "02"}, {"%j", "065"},
		{"%m", "03"}, {"%M", "07"}, {"%n", "\n"}, {"%p", "PM"},
		{"%r", "02:07:09 PM"}, {"%R", "14:07"}, {"%S", "09"}, {"%t", "\t"},
		{"%T", "14:07:09"}, {"%u", "2"}, {"%U", "09"}, {"%V", "10"}, {"%w", "2"},
		{"%W", "10"}, {"%x", "03/05/24"}, {"%X", "14:07:09"}, {"%y", "24"},
		{"%Y", "2024"}, {"%z", "+0000"}, {"%Z", "GMT"}, {"%%", "%"},
		{"%Ec", "Tue Mar  5 14:07:09 2024"}, {"%EC", "20"}, {"%Ex", "03/05/24"},
		{"%EX", "14:07:09"}, {"%Ey", "24"}, {"%EY", "2024"}, {"%Od", "05"},
		{"%Oe", " 5"}, {"%OH", "14"}, {"%OI", "02"}, {"%Om", "03"}, {"%OM", "07"},
		{"%OS", "09"}, {"%Ou", "2"}, {"%OU", "09"}, {"%OV", "10"}, {"%Ow", "2"},
		{"%OW", "10"}, {"%Oy", "24"},
		{"", ""}, {"plain text", "plain text"},
		{"%Y-%m-%dT%H:%M:%SZ", "2024-03-05T14:07:09Z"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			chunk := fmt.Sprintf("return os.date(%q, %d)", "!"+tt.format, osT0)
			got, ok := eval(t, nil, chunk)
			if !ok || got != tt.want {
				t.Errorf("os.date(%q): got %q; want %q", "!"+tt.format, got, tt.want)
			}
		})
	}
}

func TestOSDateLocalZone(t *testing.T) {
	osWithZone(t, "Europe/Berlin")
	tests := []struct {
		name, chunk, want string
	}{
		{"winter", `return os.date("%H:%M %Z %z", 1704110400)`, "13:00 CET +0100"},     // 2024-01-01 12:00 UTC
		{"summer", `return os.date("%H:%M %Z %z", 1719835200)`, "14:00 CEST +0200"},    // 2024-07-01 12:00 UTC
		{"utc flag", `return os.date("!%H:%M %Z %z", 1719835200)`, "12:00 GMT +0000"},  //
		{"default format", `return os.date()`, "Tue Mar  5 15:07:09 2024"},             // Host.Now is osT0
		{"nil format", `return os.date(nil, 0)`, "Thu Jan  1 01:00:00 1970"},           //
		{"time as string", `return os.date("!%Y", "86400")`, "1970"},                   //
		{"isdst summer", `return tostring(os.date("*t", 1719835200).isdst)`, "true"},   //
		{"isdst winter", `return tostring(os.date("*t", 1704110400).isdst)`, "false"},  //
		{"isdst utc", `return tostring(os.date("!*t", 1719835200).isdst)`, "false"},    //
		{"negative time", `return os.date("!%c", -86400)`, "Wed Dec 31 00:00:00 1969"}, //
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := eval(t, osFixedEnv(osT0), tt.chunk)
			if !ok || got != tt.want {
				t.Errorf("%s: got %q; want %q", tt.chunk, got, tt.want)
			}
		})
	}
}

func TestOSDateTable(t *testing.T) {
	osWithZone(t, "America/New_York")
	const chunk = `
local t = os.date(%q, %d)
local keys = {"year", "month", "day", "hour", "min", "sec", "wday", "yday", "isdst"}
local out = {}
for i, k in ipairs(keys) do out[i] = k .. "=" .. tostring(t[k]) end
return table.concat(out, " ")`
	tests := []struct{ format, want string }{
		{"!*t", "year=2024 month=3 day=5 hour=14 min=7 sec=9 wday=3 yday=65 isdst=false"},
		{"*t", "year=2024 month=3 day=5 hour=9 min=7 sec=9 wday=3 yday=65 isdst=false"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			got, ok := eval(t, nil, fmt.Sprintf(chunk, tt.format, osT0))
			if !ok || got != tt.want {
				t.Errorf("os.date(%q): got %q; want %q", tt.format, got, tt.want)
			}
		})
	}
}

func TestOSDateErrors(t *testing.T) {
	tests := []struct{ chunk, want string }{
		{`return os.date("%Ez")`, "chunk:1: bad argument #1 to 'date' (invalid conversion specifier '%Ez')"},
		{`return os.date("%Ez abc")`, "chunk:1: bad argument #1 to 'date' (invalid conversion specifier '%Ez abc')"},
		{`return os.date("abc%")`, "chunk:1: bad argument #1 to 'date' (invalid conversion specifier '%')"},
		{`return os.date("%k")`, "chunk:1: bad argument #1 to 'date' (invalid conversion specifier '%k')"},
		{`return os.date("!%5d")`, "chunk:1: bad argument #1 to 'date' (invalid conversion specifier '%5d')"},
		{`return os.date("%c", 1.5)`, "chunk:1: bad argument #2 to 'date' (number has no integer representation)"},
		{`return os.date("%c", {})`, "chunk:1: bad argument #2 to 'date' (number expected, got table)"},
		{`return os.date({})`, "chunk:1: bad argument #1 to 'date' (string expected, got table)"},
		{`return os.date("%c", 2^62)`, "chunk:1: date result cannot be represented in this installation"},
	}
	for _, tt := range tests {
		t.Run(tt.chunk, func(t *testing.T) {
			got, ok := eval(t, nil, tt.chunk)
			if ok || got != tt.want {
				t.Errorf("got %q (ok %v); want error %q", got, ok, tt.want)
			}
		})
	}
}

func TestOSTime(t *testing.T) {
	osWithZone(t, "Europe/Berlin")
	tests := []struct{ name, chunk, want string }{
		{"now", `return os.time()`, "1709647629"},
		{"now is integral", `return math.type(os.time())`, "integer"},
		{"table", `return os.time{year=2024, month=3, day=5, hour=15, min=7, sec=9}`, "1709647629"},
		{"hour defaults to 12", `return os.time{year=2024, month=1, day=1}`, "1704106800"},
		{"strings and floats", `return os.time{year="2024", month=1.0, day=1, hour=0}`, "1704063600"},
		{"day overflow", `return os.date("%F %T", os.time{year=2024, month=1, day=32, hour=0})`, "2024-02-01 00:00:00"},
		{"month overflow", `return os.date("%F", os.time{year=2024, month=13, day=1})`, "2025-01-01"},
		{"negative fields", `return os.date("%F %T", os.time{year=2024, month=3, day=1, hour=0, min=0, sec=-1})`, "2024-02-29 23:59:59"},
		{"zero month", `return os.date("%F", os.time{year=2024, month=0, day=1})`, "2023-12-01"},
		{"table normalised", `local t = {year=2024, month=14, day=35, hour=25}; os.time(t)
			return string.format("%d-%d-%d %d %d %d %s", t.year, t.month, t.day, t.hour, t.yday, t.wday, tostring(t.isdst))`,
			"2025-3-8 1 67 7 false"},
		{"round trip", `return os.time(os.date("*t", 1719835200))`, "1719835200"},
		{"summer time", `return os.time{year=2024, month=7, day=1, hour=14}`, "1719835200"},
		// 2024-10-27 02:30 happens twice in Berlin: isdst picks which.
		{"ambiguous dst", `return os.time{year=2024, month=10, day=27, hour=2, min=30, isdst=true}`, "1729989000"},
		{"ambiguous std", `return os.time{year=2024, month=10, day=27, hour=2, min=30, isdst=false}`, "1729992600"},
		{"ambiguous unknown", `return os.time{year=2024, month=10, day=27, hour=2, min=30}`, "1729992600"},
		{"skipped hour", `return os.time{year=2024, month=3, day=31, hour=2, min=30}`, "1711848600"},
		// isdst=true in winter: glibc reads the clock as summer time, and
		// the other way round.
		{"dst in winter", `return os.time{year=2024, month=1, day=1, hour=12, isdst=true}`, "1704103200"},
		{"std in summer", `return os.time{year=2024, month=7, day=1, hour=12, isdst=false}`, "1719831600"},
		{"difftime", `return os.difftime(10, 4)`, "6"},
		{"difftime one argument", `return os.difftime(10)`, "10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := eval(t, osFixedEnv(osT0), tt.chunk)
			if !ok || got != tt.want {
				t.Errorf("%s: got %q; want %q", tt.chunk, got, tt.want)
			}
		})
	}
}

func TestOSTimeErrors(t *testing.T) {
	tests := []struct{ chunk, want string }{
		{`return os.time{}`, "chunk:1: field 'year' missing in date table"},
		{`return os.time{year=2024}`, "chunk:1: field 'month' missing in date table"},
		{`return os.time{year=2024, month=1}`, "chunk:1: field 'day' missing in date table"},
		{`return os.time{year=2024, month=1, day=1.5}`, "chunk:1: field 'day' is not an integer"},
		{`return os.time{year=2024, month=1, day="x"}`, "chunk:1: field 'day' is not an integer"},
		{`return os.time{year=2024, month=1, day=1, hour={}}`, "chunk:1: field 'hour' is not an integer"},
		{`return os.time{year=2^40, month=1, day=1}`, "chunk:1: field 'year' is out-of-bound"},
		{`return os.time("x")`, "chunk:1: bad argument #1 to 'time' (table expected, got string)"},
		{`return os.difftime()`, "chunk:1: bad argument #1 to 'difftime' (number expected, got no value)"},
		{`return os.difftime(1, 0.5)`, "chunk:1: bad argument #2 to 'difftime' (number has no integer representation)"},
	}
	for _, tt := range tests {
		t.Run(tt.chunk, func(t *testing.T) {
			got, ok := eval(t, nil, tt.chunk)
			if ok || got != tt.want {
				t.Errorf("got %q (ok %v); want error %q", got, ok, tt.want)
			}
		})
	}
}

// TestOSDateMatchesLua54 compares os.date with Debian's lua5.4 (glibc, C
// locale) over every conversion, times around the year and its edges, in
// UTC and in a zone with daylight saving time.
func TestOSDateMatchesLua54(t *testing.T) {
	lua54, err := exec.LookPath("lua5.4")
	if err != nil {
		t.Skip("lua5.4 is not on PATH (apt-get install lua5.4 to compare os.date with C Lua)")
	}
	var formats []string
	for _, c := range "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%" {
		formats = append(formats, "%"+string(c), "!%"+string(c))
	}
	for _, c := range strftimeConversions[2] {
		formats = append(formats, "%"+c)
	}
	formats = append(formats, "*t", "!*t")
	times := []int64{0, -1, 86399, osT0, 951782400, 1704067199, 1704067200, 1711846800, 1711846799,
		1729990800, 1729987200, 1735603200, 1230768000, 1262217600, 1293753600, -62135596800,
		-62135596800 + 86400*365*998, 253402300799, 4102444800, 1099511627776}
	var script, chunk strings.Builder
	script.WriteString(`local function show(v)
  if type(v) ~= "table" then return v end
  return string.format("%d-%d-%d %d:%d:%d w%d y%d %s", v.year, v.month, v.day, v.hour, v.min, v.sec, v.wday, v.yday, tostring(v.isdst))
end
`)
	chunk.WriteString(script.String() + "local out = {}\n")
	for _, tm := range times {
		for _, f := range formats {
			line := fmt.Sprintf("io.write(%d, ' ', %q, ' = ', show(os.date(%q, %d)), '\\n')\n", tm, f, f, tm)
			script.WriteString(line)
			chunk.WriteString(fmt.Sprintf("out[#out+1] = %d .. ' ' .. %q .. ' = ' .. show(os.date(%q, %d)) .. '\\n'\n", tm, f, f, tm))
		}
	}
	for _, tbl := range []string{
		"{year=2024, month=10, day=27, hour=2, min=30}", "{year=2024, month=10, day=27, hour=2, min=30, isdst=true}",
		"{year=2024, month=10, day=27, hour=2, min=30, isdst=false}", "{year=2024, month=3, day=31, hour=2, min=30}",
		"{year=2024, month=3, day=31, hour=2, min=30, isdst=true}", "{year=2024, month=3, day=31, hour=2, min=30, isdst=false}",
		"{year=2024, month=1, day=1, isdst=true}", "{year=2024, month=7, day=1, isdst=false}",
		"{year=2024, month=1, day=1, isdst=false}", "{year=2024, month=7, day=1, isdst=true}",
		"{year=2024, month=-30, day=400, hour=-100, min=1000, sec=-100000}", "{year=1900, month=1, day=1}",
		"{year=2038, month=1, day=19, hour=3, min=14, sec=8}", "{year=1969, month=12, day=31, hour=23, min=59, sec=58}",
	} {
		chunk.WriteString(fmt.Sprintf("out[#out+1] = %q .. ' = ' .. os.time(%s) .. '\\n'\n", tbl, tbl))
		script.WriteString(fmt.Sprintf("io.write(%q, ' = ', os.time(%s), '\\n')\n", tbl, tbl))
	}
	chunk.WriteString("return table.concat(out)")
	for _, zone := range []string{"Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			osWithZone(t, zone)
			osCompareWithLua(t, lua54, zone, script.String(), chunk.String())
		})
	}
}

// osCompareWithLua runs script with lua in zone, and chunk here, and compares
// their outputs line by line.
func osCompareWithLua(t *testing.T, lua54, zone, script, chunk string) {
	cmd := exec.Command(lua54, "-")
	cmd.Env = append(cmd.Environ(), "TZ="+zone, "LC_ALL=C")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("lua5.4: %v: %s", err, stderr.String())
	}
	got, ok := eval(t, nil, chunk)
	if !ok {
		t.Fatal(got)
	}
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	if len(gotLines) != len(wantLines) {
		t.Fatalf("got %d lines; want %d", len(gotLines), len(wantLines))
	}
	for i := range gotLines {
		if gotLines[i] != wantLines[i] {
			t.Errorf("got %q; want %q", gotLines[i], wantLines[i])
		}
	}
}

func TestOSLua(t *testing.T) {
	osWithZone(t, "UTC")
	stdtest.RunLuaFile(t, "os_test.lua", osFixedEnv(osT0), errlib.Open, Open, mathlib.Open)
}

// eval runs chunk in a state with the error, os, math and utf8 modules
// (stdtest.Eval).
func eval(t *testing.T, env *luax.StaticHost, chunk string) (string, bool) {
	t.Helper()
	return stdtest.Eval(t, env, chunk, errlib.Open, Open, mathlib.Open, utf8lib.Open)
}
