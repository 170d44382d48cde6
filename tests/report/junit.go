package report

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"

	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// JUnitFileName is the JUnit XML file written beside the report.
const JUnitFileName = "junit.xml"

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// add appends a case with its outcome: a failure, a skip (a skipped
// feature or a partial check), or a pass.
func (js *junitSuite) add(jc junitCase, res reportapi.Result, msg string) {
	switch res {
	case reportapi.Failure:
		jc.Failure = &junitMessage{Message: msg, Text: msg}
		js.Failures++
	case reportapi.Skipped, reportapi.Partial:
		jc.Skipped = &junitMessage{Message: msg}
		js.Skipped++
	}
	js.Cases = append(js.Cases, jc)
}

// JUnit renders a report as JUnit XML: one testsuite per suite, one
// testcase per feature (class <suite>.features.<support>), per check and per
// matrix cell; skipped features and partial checks are skipped cases.
func JUnit(rep reportapi.Report) ([]byte, error) {
	all := junitSuites{Name: "mesh-conformance"}
	for _, s := range rep.Suites {
		js := junitSuite{Name: s.Name}
		for _, f := range s.Features {
			msg := f.Message
			if f.Result == reportapi.Failure && msg == "" {
				msg = "a check or cell of the feature failed (see the cases of its checks and matrices)"
			}
			js.add(junitCase{Name: f.Name, ClassName: s.Name + ".features." + f.Support}, f.Result, msg)
		}
		for _, c := range s.Checks {
			js.add(junitCase{Name: c.Name, ClassName: s.Name + ".checks"}, c.Result, c.Message)
		}
		for _, m := range s.Matrices {
			js.Time += m.DurationSeconds
			for _, c := range m.Cells {
				jc := junitCase{Name: c.Name, ClassName: s.Name + "." + m.Name, Time: c.DurationSeconds}
				if c.Result != reportapi.Success {
					text := fmt.Sprintf("%s -> %s\nexpected: %s\nobserved: %s\nattempts: %d\nevidence: curl exit %d, %s",
						c.Client, c.Request, c.Expected, c.Observed, c.Attempts, c.Evidence.ExitCode, c.Evidence.ErrorMessage)
					if m.Error != "" {
						text = "matrix not run: " + m.Error
					}
					jc.Failure = &junitMessage{Message: c.Reason, Text: text}
					js.Failures++
				}
				js.Cases = append(js.Cases, jc)
			}
		}
		js.Tests = len(js.Cases)
		all.Tests += js.Tests
		all.Failures += js.Failures
		all.Skipped += js.Skipped
		all.Suites = append(all.Suites, js)
	}
	out, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// WriteJUnit writes dir/junit.xml, secrets scrubbed.
func (r *Recorder) WriteJUnit(dir string) (string, error) {
	data, err := JUnit(r.Report())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, JUnitFileName)
	return path, os.WriteFile(path, r.redact.Bytes(data), 0o644)
}
