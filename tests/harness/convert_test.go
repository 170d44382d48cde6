package harness

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

func TestReportMatrix(t *testing.T) {
	url := "http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/sklearn-iris"
	res := matrix.Result{Matrix: "namespace-isolation", Rounds: 4, Duration: 3500 * time.Millisecond, Cells: []matrix.CellResult{
		{Cell: matrix.Cell{Name: "user1-to-sklearn-iris", Client: matrix.Client{Name: "user1", Namespace: "user1"}, Request: probe.Request{URL: url},
			Expect: matrix.Expect(matrix.Allowed)},
			Passed: true, Attempts: 3, Streak: 3, Duration: 2 * time.Second,
			Last: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200, Evidence: probe.Evidence{Body: `{"name":"sklearn-iris","ready":true}`}}},
		{Cell: matrix.Cell{Name: "default-to-sklearn-iris", Client: matrix.Client{Name: "default", Namespace: "default"}, Request: probe.Request{URL: url},
			Expect: matrix.Expect(matrix.DeniedHTTP403).WithBody("RBAC: access denied")},
			Attempts: 4, Duration: 3500 * time.Millisecond, Reason: "expected denied (HTTP 403), observed HTTP 200", EnvErrors: 1,
			Last: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200, Evidence: probe.Evidence{Body: "echo"}}},
		{Cell: matrix.Cell{Name: "never-probed", Client: matrix.Client{Name: "default"}, Request: probe.Request{URL: url}, Expect: matrix.Expect(matrix.Allowed)},
			EnvironmentError: true, Reason: "the client pod was gone"},
	}}
	want := reportapi.Matrix{Name: "namespace-isolation", Rounds: 4, DurationSeconds: 3.5, Cells: []reportapi.Cell{
		{Name: "user1-to-sklearn-iris", Client: "user1", Request: "GET " + url, Expected: "allowed (2xx)", Observed: "HTTP 200",
			Result: reportapi.Success, Attempts: 3, DurationSeconds: 2, Evidence: reportapi.Evidence{Body: `{"name":"sklearn-iris","ready":true}`}},
		{Name: "default-to-sklearn-iris", Client: "default", Request: "GET " + url, Expected: `denied (HTTP 403), body has "RBAC: access denied"`,
			Observed: "HTTP 200", Result: reportapi.Failure, Attempts: 4, DurationSeconds: 3.5, Reason: "expected denied (HTTP 403), observed HTTP 200",
			EnvironmentErrors: 1, Evidence: reportapi.Evidence{Body: "echo"}},
		{Name: "never-probed", Client: "default", Request: "GET " + url, Expected: "allowed (2xx)", Observed: "-", Result: reportapi.Failure,
			Reason: "the client pod was gone", EnvironmentError: true},
	}}
	assert.Equal(t, want, ReportMatrix(res))

	res.Err = errors.New("no pod for client user1")
	got := ReportMatrix(res)
	assert.Equal(t, "no pod for client user1", got.Error)
	assert.Equal(t, reportapi.Failure, got.Cells[0].Result, "no cell of a matrix that did not run passes")
}

// A field curl's evidence gains must reach the report too: the report's
// copy has every field of the probe's (the report's alone is marshalled, so
// only it has JSON names), and the conversion carries each one.
func TestReportEvidenceCarriesEveryField(t *testing.T) {
	from, to := reflect.TypeOf(probe.Evidence{}), reflect.TypeOf(reportapi.Evidence{})
	assert.Equal(t, from.NumField(), to.NumField())
	in := probe.Evidence{}
	v := reflect.ValueOf(&in).Elem()
	for i := 0; i < from.NumField(); i++ {
		f := from.Field(i)
		_, ok := to.FieldByName(f.Name)
		if !assert.True(t, ok, "reportapi.Evidence lacks %s", f.Name) {
			continue
		}
		switch f.Type.Kind() {
		case reflect.String:
			v.Field(i).SetString("x-" + f.Name)
		case reflect.Int:
			v.Field(i).SetInt(int64(i + 1))
		case reflect.Float64:
			v.Field(i).SetFloat(float64(i) + 0.5)
		default:
			t.Fatalf("%s: a %s field; teach this test to fill it", f.Name, f.Type)
		}
	}
	out := reflect.ValueOf(ReportEvidence(in))
	for i := 0; i < from.NumField(); i++ {
		name := from.Field(i).Name
		assert.Equal(t, v.Field(i).Interface(), out.FieldByName(name).Interface(), "%s is not carried", name)
	}
}
