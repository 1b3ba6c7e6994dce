package dconfig

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ParseTime parses a time interval the way Dovecot 2.3.19.1's
// settings_get_time does (src/lib-settings/settings-parser.c), for
// settings held in whole seconds such as the OX driver's cache_lifetime:
//
//   - a decimal number, then optional spaces, then a unit; the unit may be
//     any case-insensitive prefix of secs/seconds, mins/minutes, hours,
//     days, weeks, or of msecs/mseconds/millisecs/milliseconds
//     ("5s", "1 min", "2 h", "2000ms" …);
//   - a bare number is an error unless it is 0 ("Time interval '60' is
//     missing units (add e.g. 's' for seconds)"): Dovecot 2.3.0 and later
//     require the unit;
//   - milliseconds must be whole seconds ("1500ms" is an error);
//   - the result must fit Dovecot's unsigned int of seconds.
//
// Errors carry Dovecot's own text, for example "Invalid time interval: x".
func ParseTime(s string) (time.Duration, error) {
	n, err := parseTime(s, false)
	if err != nil {
		return 0, err
	}
	return time.Duration(n) * time.Second, nil
}

// parseTime is settings_get_time_full; the result is in seconds, or in
// milliseconds when msecs is true (settings_get_time_msecs).
func parseTime(s string, msecs bool) (uint64, error) {
	invalid := errors.New("Invalid time interval: " + s)
	var num uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if num > (math.MaxUint64-d)/10 {
			return 0, invalid
		}
		num = num*10 + d
	}
	if i == 0 {
		return 0, invalid
	}
	p := strings.TrimLeft(s[i:], " ")
	if p == "" && num != 0 {
		return 0, fmt.Errorf("Time interval '%s' is missing units (add e.g. 's' for seconds)", s)
	}
	multiply := uint64(1)
	if msecs {
		multiply = 1000
	}
	if p != "" {
		switch p[0] | 0x20 { // ASCII lower case
		case 's':
			if unitPrefix(p, "secs", "seconds") {
				p = ""
			}
		case 'm':
			multiply *= 60
			if unitPrefix(p, "mins", "minutes") {
				p = ""
			} else if unitPrefix(p, "msecs", "mseconds", "millisecs", "milliseconds") {
				if !msecs && num%1000 != 0 {
					return 0, errors.New("Milliseconds not supported for this setting: " + s)
				}
				if !msecs {
					num /= 1000 // whole seconds written in ms
				}
				multiply = 1
				p = ""
			}
		case 'h':
			multiply *= 60 * 60
			if unitPrefix(p, "hours") {
				p = ""
			}
		case 'd':
			multiply *= 60 * 60 * 24
			if unitPrefix(p, "days") {
				p = ""
			}
		case 'w':
			multiply *= 60 * 60 * 24 * 7
			if unitPrefix(p, "weeks") {
				p = ""
			}
		}
	}
	if p != "" {
		return 0, invalid
	}
	if num > math.MaxUint32/multiply {
		return 0, errors.New("Time interval is too large: " + s)
	}
	return num * multiply, nil
}

// unitPrefix reports whether p is a case-insensitive prefix of one of the
// words (C: strncasecmp(p, word, strlen(p)) == 0).
func unitPrefix(p string, words ...string) bool {
	for _, w := range words {
		if len(p) <= len(w) && strings.EqualFold(p, w[:len(p)]) {
			return true
		}
	}
	return false
}

// ParseBool parses a Dovecot boolean. yes, y, true and 1 are true; no, n,
// false and 0 are false; case is ignored. Dovecot 2.3's config parser
// accepts only yes/y/1/no, so this is a superset: every value Dovecot
// accepts means the same here. The error text is Dovecot's.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y", "true", "1":
		return true, nil
	case "no", "n", "false", "0":
		return false, nil
	}
	return false, errors.New("Invalid boolean value: " + s + " (use yes or no)")
}

// ParseTimeMsecs parses a time interval the way Dovecot's
// settings_get_time_msecs does (Dovecot 2.4's TIME_MSECS settings, such as
// push_notification_ox_cache_ttl): like ParseTime, but milliseconds are
// allowed and a bare number means milliseconds is still an error.
func ParseTimeMsecs(s string) (time.Duration, error) {
	n, err := parseTime(s, true)
	if err != nil {
		return 0, err
	}
	return time.Duration(n) * time.Millisecond, nil
}
