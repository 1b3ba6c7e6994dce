package oslib

// os.date, os.time and os.difftime as in Lua 5.4 on glibc in the C locale:
// go-lua has no os.date, and its os.time neither normalises the table nor
// uses a fakeable clock.
//
// Time values are whole seconds: a fractional time argument raises "number
// has no integer representation", as in Lua 5.3 and 5.4. The clock is
// the host's Now; the local time zone is the process's (time.Local). Where C Lua 5.4
// is stricter than needed, this stays lenient: os.difftime's second argument
// is optional (0) as in Lua 5.2, and os.time returns -1 for the one second
// where glibc's mktime fails with -1 (see mktime). The other os functions
// stay go-lua's.

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// osLocation is the local time zone of os.date and os.time; nil means
// time.Local. Only tests set it.
var osLocation *time.Location

func localLocation() *time.Location {
	if osLocation != nil {
		return osLocation
	}
	return time.Local
}

// osFunctions is the table of the os functions this module replaces.
func osFunctions(h luax.Host) []lua.RegistryFunction {
	return []lua.RegistryFunction{
		{Name: "date", Function: func(l *lua.State) int { return osDate(l, h) }},
		{Name: "difftime", Function: osDifftime},
		{Name: "getenv", Function: osGetenv},
		{Name: "time", Function: func(l *lua.State) int { return osTime(l, h) }},
	}
}

// osGetenv is os.getenv(name): nil for an unset variable (go-lua's
// returns "", which breaks the `os.getenv("X") or default` idiom).
func osGetenv(l *lua.State) int {
	v, ok := os.LookupEnv(lua.CheckString(l, 1))
	if !ok {
		l.PushNil()
		return 1
	}
	l.PushString(v)
	return 1
}

// Open replaces os.date, os.time, os.difftime and os.getenv in the
// global os table.
func Open(l *lua.State, h luax.Host) {
	luax.GlobalTable(l, "os")
	lua.SetFunctions(l, osFunctions(h), 0)
	l.Pop(1)
}

// The glibc limits: tm_year is an int.
const (
	minTmYear = math.MinInt32
	maxTmYear = math.MaxInt32
)

// osDate is os.date([format [, time]]).
func osDate(l *lua.State, h luax.Host) int {
	format := luax.OptString(l, 1, "date", "%c")
	var t time.Time
	if l.IsNoneOrNil(2) {
		t = h.Now()
	} else {
		sec := checkTimeArg(l, 2, "date")
		// Beyond this the year overflows glibc's int tm_year anyway, and
		// Go's time arithmetic would overflow.
		if sec < -(1<<60) || sec > 1<<60 {
			luax.RaiseWhere(l, "date result cannot be represented in this installation")
		}
		t = time.Unix(sec, 0)
	}
	utc := strings.HasPrefix(format, "!")
	if utc {
		format = format[1:]
		t = t.UTC()
	} else {
		t = t.In(localLocation())
	}
	if y := int64(t.Year()) - 1900; y < minTmYear || y > maxTmYear {
		luax.RaiseWhere(l, "date result cannot be represented in this installation")
	}
	if format == "*t" {
		l.CreateTable(0, 9)
		setDateFields(l, t)
		return 1
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		conv := strftimeConversion(format[i+1:])
		if conv == "" {
			luax.ArgError(l, 1, "date", "invalid conversion specifier '%"+format[i+1:]+"'")
		}
		strftime(&b, t, conv[len(conv)-1], utc)
		i += len(conv)
	}
	l.PushString(b.String())
	return 1
}

// strftimeConversions are the conversions Lua 5.4 lets through to strftime
// (LUA_STRFTIMEOPTIONS for C99): one-character ones, then E and O modified
// ones.
var strftimeConversions = [...][]string{
	1: strings.Split("aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%", ""),
	2: {"Ec", "EC", "Ex", "EX", "Ey", "EY",
		"Od", "Oe", "OH", "OI", "Om", "OM", "OS", "Ou", "OU", "OV", "Ow", "OW", "Oy"},
}

// strftimeConversion returns the conversion that s (what follows a '%')
// starts with, or "" if none.
func strftimeConversion(s string) string {
	for n := 1; n < len(strftimeConversions); n++ {
		if len(s) < n {
			break
		}
		for _, c := range strftimeConversions[n] {
			if s[:n] == c {
				return c
			}
		}
	}
	return ""
}

// strftime appends conversion c of glibc's strftime in the C locale. The E
// and O modifiers change nothing there.
func strftime(b *strings.Builder, t time.Time, c byte, utc bool) {
	sub := func(format string) {
		for i := 0; i < len(format); i++ {
			if format[i] == '%' {
				i++
				strftime(b, t, format[i], utc)
			} else {
				b.WriteByte(format[i])
			}
		}
	}
	num := func(width int, n int) {
		b.WriteString(fmt.Sprintf("%0*d", width, n))
	}
	year := t.Year()
	yday := t.YearDay() - 1
	wday := int(t.Weekday())
	switch c {
	case 'a':
		b.WriteString(t.Weekday().String()[:3])
	case 'A':
		b.WriteString(t.Weekday().String())
	case 'b', 'h':
		b.WriteString(t.Month().String()[:3])
	case 'B':
		b.WriteString(t.Month().String())
	case 'c':
		sub("%a %b %e %H:%M:%S %Y")
	case 'C':
		century := year / 100
		if year < 0 && year%100 != 0 {
			century--
		}
		b.WriteString(strconv.Itoa(century))
	case 'd':
		num(2, t.Day())
	case 'D', 'x':
		sub("%m/%d/%y")
	case 'e':
		b.WriteString(fmt.Sprintf("%2d", t.Day()))
	case 'F':
		sub("%Y-%m-%d")
	case 'g':
		y, _ := t.ISOWeek()
		num(2, (y%100+100)%100)
	case 'G':
		y, _ := t.ISOWeek()
		b.WriteString(strconv.Itoa(y))
	case 'H':
		num(2, t.Hour())
	case 'I':
		num(2, (t.Hour()+11)%12+1)
	case 'j':
		num(3, yday+1)
	case 'm':
		num(2, int(t.Month()))
	case 'M':
		num(2, t.Minute())
	case 'n':
		b.WriteByte('\n')
	case 'p':
		if t.Hour() < 12 {
			b.WriteString("AM")
		} else {
			b.WriteString("PM")
		}
	case 'r':
		sub("%I:%M:%S %p")
	case 'R':
		sub("%H:%M")
	case 'S':
		num(2, t.Second())
	case 't':
		b.WriteByte('\t')
	case 'T', 'X':
		sub("%H:%M:%S")
	case 'u':
		b.WriteString(strconv.Itoa((wday+6)%7 + 1))
	case 'U':
		num(2, (yday-wday+7)/7)
	case 'V':
		_, w := t.ISOWeek()
		num(2, w)
	case 'w':
		b.WriteString(strconv.Itoa(wday))
	case 'W':
		num(2, (yday-(wday+6)%7+7)/7)
	case 'y':
		num(2, (year%100+100)%100)
	case 'Y':
		b.WriteString(strconv.Itoa(year))
	case 'z':
		_, off := t.Zone()
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		b.WriteString(fmt.Sprintf("%c%02d%02d", sign, off/3600, off/60%60))
	case 'Z':
		if utc {
			b.WriteString("GMT") // glibc's gmtime names UTC so
		} else {
			name, _ := t.Zone()
			b.WriteString(name)
		}
	case '%':
		b.WriteByte('%')
	}
}

// setDateFields sets the fields of os.date("*t") in the table on top of the
// stack.
func setDateFields(l *lua.State, t time.Time) {
	for _, f := range []struct {
		name  string
		value int
	}{
		{"year", t.Year()},
		{"month", int(t.Month())},
		{"day", t.Day()},
		{"hour", t.Hour()},
		{"min", t.Minute()},
		{"sec", t.Second()},
		{"yday", t.YearDay()},
		{"wday", int(t.Weekday()) + 1},
	} {
		l.PushInteger(f.value)
		l.SetField(-2, f.name)
	}
	l.PushBoolean(t.IsDST())
	l.SetField(-2, "isdst")
}

// osTime is os.time([table]): now, or the time the table's fields denote in
// the local zone, normalised like C's mktime; the table's fields are updated
// with the normalised values.
func osTime(l *lua.State, h luax.Host) int {
	if l.IsNoneOrNil(1) {
		l.PushNumber(float64(h.Now().Unix()))
		return 1
	}
	if l.TypeOf(1) != lua.TypeTable {
		luax.TypeError(l, 1, "time", "table")
	}
	l.SetTop(1)
	year := dateField(l, "year", -1, 1900)
	month := dateField(l, "month", -1, 1)
	day := dateField(l, "day", -1, 0)
	hour := dateField(l, "hour", 12, 0)
	minute := dateField(l, "min", 0, 0)
	sec := dateField(l, "sec", 0, 0)
	l.Field(1, "isdst")
	isdst := -1
	if !l.IsNil(-1) {
		isdst = 0
		if l.ToBoolean(-1) {
			isdst = 1
		}
	}
	l.Pop(1)
	t := mktime(year+1900, month+1, day, hour, minute, sec, isdst, localLocation())
	if y := int64(t.Year()) - 1900; y < minTmYear || y > maxTmYear {
		luax.RaiseWhere(l, "time result cannot be represented in this installation")
	}
	setDateFields(l, t)
	l.PushNumber(float64(t.Unix()))
	return 1
}

// dateField reads an integer field of os.time's table, minus delta; def < 0
// means the field is required.
func dateField(l *lua.State, key string, def, delta int) int {
	l.Field(-1, key)
	n, ok := l.ToNumber(-1)
	i, isInt := luax.FloatToInteger(n)
	if !ok || !isInt {
		switch {
		case !l.IsNil(-1):
			luax.RaiseWhere(l, fmt.Sprintf("field '%s' is not an integer", key))
		case def < 0:
			luax.RaiseWhere(l, fmt.Sprintf("field '%s' missing in date table", key))
		}
		l.Pop(1)
		return def
	}
	if i >= 0 && i-int64(delta) > math.MaxInt32 || i < 0 && i < math.MinInt32+int64(delta) {
		luax.RaiseWhere(l, fmt.Sprintf("field '%s' is out-of-bound", key))
	}
	l.Pop(1)
	return int(i) - delta
}

// mktime is glibc's mktime: out-of-range fields are normalised (time.Date
// does that), and isdst (-1 unknown, 0 no, 1 yes) says whether the wall
// clock is in daylight saving time. When it is known:
//   - a reading of the clock of that kind, if there is one, wins (this picks
//     the first or the second 02:30 of the night summer time ends);
//   - otherwise the clock is read with the UTC offset of that kind in force
//     nearest to it (glibc probes every 601200 s for up to 457243200 s);
//   - in a zone without one, summer time is taken to be one hour ahead.
//
// One difference: glibc's mktime returns -1 for 1969-12-31 23:59:59 UTC,
// which Lua reports as "time result cannot be represented"; here it is -1.
func mktime(year, month, day, hour, minute, sec, isdst int, loc *time.Location) time.Time {
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc)
	if isdst < 0 {
		return t
	}
	want := isdst > 0
	wall := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC).Unix()
	for _, near := range []int64{wall - 86400, wall, wall + 86400} {
		_, off := time.Unix(near, 0).In(loc).Zone()
		u := time.Unix(wall-int64(off), 0).In(loc)
		if _, uoff := u.Zone(); uoff == off && u.IsDST() == want {
			return u
		}
	}
	const stride, bound = 601200, 457243200 + 601200
	for delta := int64(0); delta < bound; delta += stride {
		for _, dir := range []int64{-1, 1} {
			ot := time.Unix(t.Unix()+dir*delta, 0).In(loc)
			if ot.IsDST() == want {
				_, off := ot.Zone()
				return time.Unix(wall-int64(off), 0).In(loc)
			}
		}
	}
	if want {
		return t.Add(-time.Hour)
	}
	return t.Add(time.Hour)
}

// osDifftime is os.difftime(t2, t1): t2 - t1 in seconds. Lua 5.2 made t1
// optional (0), 5.3.6 and 5.4 require it; it stays optional.
func osDifftime(l *lua.State) int {
	t2 := checkTimeArg(l, 1, "difftime")
	var t1 int64
	if !l.IsNoneOrNil(2) {
		t1 = checkTimeArg(l, 2, "difftime")
	}
	l.PushNumber(float64(t2) - float64(t1))
	return 1
}

// checkTimeArg is Lua 5.4's l_checktime: an integer.
func checkTimeArg(l *lua.State, arg int, fname string) int64 {
	return luax.CheckInteger(l, arg, fname)
}
