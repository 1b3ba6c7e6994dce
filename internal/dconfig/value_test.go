package dconfig

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "0 ", want: 0},
		{in: "5s", want: 5 * time.Second},
		{in: "5 s", want: 5 * time.Second},
		{in: "5   secs", want: 5 * time.Second},
		{in: "5sec", want: 5 * time.Second},
		{in: "5second", want: 5 * time.Second},
		{in: "5Seconds", want: 5 * time.Second},
		{in: "5se", want: 5 * time.Second},
		{in: "1m", want: time.Minute},
		{in: "1 min", want: time.Minute},
		{in: "2mins", want: 2 * time.Minute},
		{in: "2MINUTE", want: 2 * time.Minute},
		{in: "2minutes", want: 2 * time.Minute},
		{in: "3h", want: 3 * time.Hour},
		{in: "3 hour", want: 3 * time.Hour},
		{in: "3hours", want: 3 * time.Hour},
		{in: "1d", want: 24 * time.Hour},
		{in: "2 days", want: 48 * time.Hour},
		{in: "1w", want: 7 * 24 * time.Hour},
		{in: "1 weeks", want: 7 * 24 * time.Hour},
		{in: "2000ms", want: 2 * time.Second},
		{in: "3000 msec", want: 3 * time.Second},
		{in: "3000msecs", want: 3 * time.Second},
		{in: "4000 millisecond", want: 4 * time.Second},
		{in: "4000 milliseconds", want: 4 * time.Second},
		{in: "4000 MILLIS", want: 4 * time.Second},
		{in: "0ms", want: 0},
		{in: "007s", want: 7 * time.Second},
		{in: "4294967295s", want: 4294967295 * time.Second},
		{in: "60", wantErr: "Time interval '60' is missing units (add e.g. 's' for seconds)"},
		{in: "60  ", wantErr: "Time interval '60  ' is missing units (add e.g. 's' for seconds)"},
		{in: "1500ms", wantErr: "Milliseconds not supported for this setting: 1500ms"},
		{in: "", wantErr: "Invalid time interval: "},
		{in: "s", wantErr: "Invalid time interval: s"},
		{in: " 5s", wantErr: "Invalid time interval:  5s"},
		{in: "-5s", wantErr: "Invalid time interval: -5s"},
		{in: "5x", wantErr: "Invalid time interval: 5x"},
		{in: "5 s ", wantErr: "Invalid time interval: 5 s "},
		{in: "5\ts", wantErr: "Invalid time interval: 5\ts"},
		{in: "5secondsx", wantErr: "Invalid time interval: 5secondsx"},
		{in: "5hr", wantErr: "Invalid time interval: 5hr"},
		{in: "1.5s", wantErr: "Invalid time interval: 1.5s"},
		{in: "5mx", wantErr: "Invalid time interval: 5mx"},
		{in: "4294967296s", wantErr: "Time interval is too large: 4294967296s"},
		{in: "71582789m", wantErr: "Time interval is too large: 71582789m"},
		{in: "99999999999999999999999s", wantErr: "Invalid time interval: 99999999999999999999999s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseTime(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseTime(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseTimeMsecs(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"1500ms", 1500},
		{"2s", 2000},
		{"1m", 60000},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in, true)
		if err != nil || got != tt.want {
			t.Errorf("parseTime(%q, true) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"yes", true, false}, {"YES", true, false}, {"y", true, false}, {"Y", true, false},
		{"true", true, false}, {"True", true, false}, {"1", true, false},
		{"no", false, false}, {"No", false, false}, {"n", false, false}, {"N", false, false},
		{"false", false, false}, {"FALSE", false, false}, {"0", false, false},
		{"", false, true}, {"on", false, true}, {"off", false, true}, {" yes", false, true},
		{"2", false, true}, {"yess", false, true},
	}
	for _, tt := range tests {
		got, err := ParseBool(tt.in)
		if tt.wantErr {
			want := "Invalid boolean value: " + tt.in + " (use yes or no)"
			if err == nil || err.Error() != want {
				t.Errorf("ParseBool(%q) = %v, %v; want error %q", tt.in, got, err, want)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}
