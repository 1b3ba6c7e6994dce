package conformance

import (
	"bytes"
	"strings"
	"testing"
)

// No format prints a credential of the configuration under test.
func TestReportRedactsCredentials(t *testing.T) {
	rep := &Report{Suites: []*Suite{{
		Name:   "p.conf",
		Target: "ox:url=http://login:SECRETPASS@ox.example.com/notify",
		Tests: []*Test{
			{Name: "script_init", Status: Fail,
				Message:  "scripts/ox.lua: Failed to parse OX REST URL htp://login:SECRETPASS@h/: Not an HTTP URL",
				Warnings: []string{"GET http://h/?token=SECRETPASS"},
				Log:      "Debug: Authorization: Basic SECRETPASS"},
			{Name: "cases/x", Status: Skip, Message: "endpoint http://u:SECRETPASS@h/ refused"},
		},
	}}}
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := rep.WriteReport(&buf, format); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if strings.Contains(out, "SECRETPASS") {
				t.Errorf("the report holds the password:\n%s", out)
			}
			if !strings.Contains(out, "login:xxxxx@") {
				t.Errorf("the report lacks the masked URL:\n%s", out)
			}
		})
	}
	if !strings.Contains(rep.Suites[0].Tests[0].Message, "SECRETPASS") {
		t.Errorf("writing the report changed the report itself")
	}
}
