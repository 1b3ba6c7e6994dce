package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pushlua/pushlua/internal/redact"
)

// Formats WriteReport knows.
var Formats = []string{"text", "json", "junit", "tap"}

// WriteReport writes the report in one of Formats. Every format masks
// credentials (URL passwords, token parameters, Authorization values; see
// internal/redact) in names, messages, warnings and logs: a report goes to
// CI logs, and the configuration under test may be the production one.
func (r *Report) WriteReport(w io.Writer, format string) error {
	switch format {
	case "text", "":
		return r.WriteText(w)
	case "json":
		return r.WriteJSON(w)
	case "junit":
		return r.WriteJUnit(w)
	case "tap":
		return r.WriteTAP(w)
	default:
		return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
	}
}

// Summary is the last line of the text output: "N passed, N failed" and
// ", N skipped" when any were.
func (r *Report) Summary() string {
	p, f, s := r.Counts()
	out := fmt.Sprintf("%d passed, %d failed", p, f)
	if s > 0 {
		out += fmt.Sprintf(", %d skipped", s)
	}
	return out
}

// WriteText writes one line per test (passing corpus scenarios in one
// line per suite), failure messages indented below their test, and the
// summary line.
func (r *Report) WriteText(w io.Writer) error {
	r = r.redacted()
	var b strings.Builder
	for _, s := range r.Suites {
		head := "=== " + s.Name
		if s.Target != "" && s.Target != s.Name {
			head += " (" + s.Target + ")"
		}
		b.WriteString(head + "\n")
		if reason, ok := s.allSkipped(); ok {
			fmt.Fprintf(&b, "SKIP  %s/* (%d tests): %s\n", s.Name, len(s.Tests), reason)
			continue
		}
		corpusOK, corpusAll := 0, 0
		for _, t := range s.Tests {
			if strings.HasPrefix(t.Name, checkCorpus+"/") {
				corpusAll++
				if t.Status == Pass && len(t.Warnings) == 0 {
					corpusOK++
				}
			}
		}
		summarized := false
		for i := 0; i < len(s.Tests); i++ {
			t := s.Tests[i]
			full := s.Name + "/" + t.Name
			// A run of tests skipped for one reason is one line.
			if j := skipRun(s.Tests, i); j-i >= 3 {
				fmt.Fprintf(&b, "SKIP  %s ... %s (%d tests): %s\n", full, s.Tests[j-1].Name, j-i, t.Message)
				i = j - 1
				continue
			}
			if strings.HasPrefix(t.Name, checkCorpus+"/") && t.Status == Pass && len(t.Warnings) == 0 && corpusOK > 1 {
				if !summarized {
					fmt.Fprintf(&b, "ok    %s/%s/* (%d of %d scenarios)\n", s.Name, checkCorpus, corpusOK, corpusAll)
					summarized = true
				}
				continue
			}
			switch t.Status {
			case Pass:
				b.WriteString("ok    " + full + "\n")
			case Fail:
				b.WriteString("FAIL  " + full + "\n")
			case Skip:
				b.WriteString("SKIP  " + full + ": " + t.Message + "\n")
			}
			for _, warn := range t.Warnings {
				b.WriteString(indent("warning: "+warn, "      ") + "\n")
			}
			if t.Status == Fail {
				b.WriteString(indent(t.Message, "      ") + "\n")
			}
		}
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// redacted returns a copy of the report with credentials masked in every
// string a format writes.
func (r *Report) redacted() *Report {
	out := &Report{Duration: r.Duration, Suites: make([]*Suite, len(r.Suites))}
	for i, s := range r.Suites {
		cs := *s
		cs.Name, cs.Target = redact.String(s.Name), redact.String(s.Target)
		cs.Tests = make([]*Test, len(s.Tests))
		for j, t := range s.Tests {
			ct := *t
			ct.Name, ct.File = redact.String(t.Name), redact.String(t.File)
			ct.Message, ct.Log = redact.String(t.Message), redact.String(t.Log)
			ct.Warnings = make([]string, len(t.Warnings))
			for k, w := range t.Warnings {
				ct.Warnings[k] = redact.String(w)
			}
			if t.Warnings == nil {
				ct.Warnings = nil
			}
			cs.Tests[j] = &ct
		}
		out.Suites[i] = &cs
	}
	return out
}

// skipRun returns the end of the run of tests from i on that were
// skipped with the same message.
func skipRun(tests []*Test, i int) int {
	j := i
	for j < len(tests) && tests[j].Status == Skip && tests[j].Message == tests[i].Message && len(tests[j].Warnings) == 0 {
		j++
	}
	return j
}

// allSkipped reports whether every test of the suite was skipped for one
// reason, and the reason.
func (s *Suite) allSkipped() (string, bool) {
	if len(s.Tests) < 2 {
		return "", false
	}
	for _, t := range s.Tests {
		if t.Status != Skip || t.Message != s.Tests[0].Message {
			return "", false
		}
	}
	return s.Tests[0].Message, true
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

type jsonTest struct {
	Name     string   `json:"name"`
	File     string   `json:"file,omitempty"`
	Status   Status   `json:"status"`
	Message  string   `json:"message,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Log      string   `json:"log,omitempty"`
	Seconds  float64  `json:"seconds"`
}

type jsonSuite struct {
	Name    string     `json:"name"`
	Target  string     `json:"target,omitempty"`
	Seconds float64    `json:"seconds"`
	Tests   []jsonTest `json:"tests"`
}

type jsonReport struct {
	Passed  int         `json:"passed"`
	Failed  int         `json:"failed"`
	Skipped int         `json:"skipped"`
	Seconds float64     `json:"seconds"`
	Suites  []jsonSuite `json:"suites"`
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	r = r.redacted()
	out := jsonReport{Seconds: r.Duration.Seconds(), Suites: []jsonSuite{}}
	out.Passed, out.Failed, out.Skipped = r.Counts()
	for _, s := range r.Suites {
		js := jsonSuite{Name: s.Name, Target: s.Target, Seconds: s.Duration.Seconds(), Tests: []jsonTest{}}
		for _, t := range s.Tests {
			js.Tests = append(js.Tests, jsonTest{Name: t.Name, File: t.File, Status: t.Status, Message: t.Message,
				Warnings: t.Warnings, Log: t.Log, Seconds: t.Duration.Seconds()})
		}
		out.Suites = append(out.Suites, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// The JUnit XML schema (the one Jenkins, GitLab and GitHub Actions
// reporters read).
type junitTestsuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestsuite `xml:"testsuite"`
}

type junitTestsuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Cases     []junitTestcase `xml:"testcase"`
}

type junitTestcase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is element text written as CDATA, so that diffs and logs keep
// their lines.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML: one testsuite per suite, one
// testcase per test (classname: the suite), failure and skipped elements,
// warnings and logs in system-out.
func (r *Report) WriteJUnit(w io.Writer) error {
	r = r.redacted()
	out := junitTestsuites{Name: "pushlua conformance", Time: secs(r.Duration)}
	stamp := time.Now().UTC().Format("2006-01-02T15:04:05")
	for _, s := range r.Suites {
		p, f, sk := s.Counts()
		js := junitTestsuite{Name: s.Name, Tests: p + f + sk, Failures: f, Skipped: sk, Time: secs(s.Duration), Timestamp: stamp}
		for _, t := range s.Tests {
			tc := junitTestcase{Name: t.Name, Classname: s.Name, Time: secs(t.Duration)}
			switch t.Status {
			case Fail:
				tc.Failure = &junitFailure{Message: xmlSafe(firstLine(t.Message)), Type: "failure", Text: xmlSafe(t.Message)}
			case Skip:
				tc.Skipped = &junitSkipped{Message: xmlSafe(t.Message)}
			}
			var so []string
			for _, warn := range t.Warnings {
				so = append(so, "warning: "+warn)
			}
			if t.Log != "" {
				so = append(so, t.Log)
			}
			if len(so) > 0 {
				tc.SystemOut = &junitText{Text: xmlSafe(strings.Join(so, "\n"))}
			}
			js.Cases = append(js.Cases, tc)
		}
		out.Tests += js.Tests
		out.Failures += f
		out.Skipped += sk
		out.Suites = append(out.Suites, js)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlSafe replaces what XML 1.0 cannot carry (control characters other
// than tab and newline, invalid UTF-8) with U+FFFD.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == utf8.RuneError, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// WriteTAP writes the report as TAP version 13, with YAML diagnostics for
// failures.
func (r *Report) WriteTAP(w io.Writer) error {
	r = r.redacted()
	var b strings.Builder
	n := 0
	for _, s := range r.Suites {
		n += len(s.Tests)
	}
	fmt.Fprintf(&b, "TAP version 13\n1..%d\n", n)
	i := 0
	for _, s := range r.Suites {
		for _, t := range s.Tests {
			i++
			name := strings.ReplaceAll(s.Name+"/"+t.Name, "#", `\#`)
			switch t.Status {
			case Pass:
				fmt.Fprintf(&b, "ok %d - %s\n", i, name)
			case Skip:
				fmt.Fprintf(&b, "ok %d - %s # SKIP %s\n", i, name, strings.ReplaceAll(firstLine(t.Message), "#", `\#`))
			case Fail:
				fmt.Fprintf(&b, "not ok %d - %s\n", i, name)
				b.WriteString("  ---\n  message: |-\n")
				b.WriteString(indent(t.Message, "    ") + "\n")
				b.WriteString("  severity: fail\n")
				if t.File != "" {
					fmt.Fprintf(&b, "  file: %q\n", t.File)
				}
				b.WriteString("  ...\n")
			}
			for _, warn := range t.Warnings {
				b.WriteString("# warning: " + strings.ReplaceAll(warn, "\n", " ") + "\n")
			}
		}
	}
	fmt.Fprintf(&b, "# %s\n", r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}
