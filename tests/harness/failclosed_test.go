package harness

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

func TestReportDisruptionKeepsBreachesAndDowntime(t *testing.T) {
	o := probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200, Evidence: probe.Evidence{Body: `{"ready":true}`}}
	res := disruption.Result{Disruption: "istiod", What: "scaled to zero", Matrix: "m", Rounds: 9, RestoreErr: errors.New("still 0/1 available"),
		Breaches: []disruption.Breach{{Round: 4, Phase: disruption.Taken, At: 4 * time.Second, Cell: "default-to-model", Client: "default", Request: "GET http://model/", Outcome: o}},
		Cells: []disruption.CellResult{
			{Cell: matrix.Cell{Name: "default-to-model"}, Deny: true},
			{Cell: matrix.Cell{Name: "user1-to-model"}, Down: true, DownRounds: 3, DownAt: 2 * time.Second, Recovered: true,
				RecoveredAfter: time.Second, Downtime: 5 * time.Second, Passed: true},
		}}
	s := disruption.Settings{Settings: matrix.Settings{RoundInterval: time.Second, MaxTimeToConsistency: time.Minute}}
	got := ReportDisruption(res, s)
	assert.Equal(t, reportapi.Failure, got.Result)
	require.Len(t, got.Breaches, 1)
	assert.Equal(t, reportapi.Breach{Round: 4, Phase: "taken", AtSeconds: 4, Cell: "default-to-model", Client: "default", Request: "GET http://model/",
		Observed: "HTTP 200", Evidence: reportapi.Evidence{Body: `{"ready":true}`}}, got.Breaches[0])
	assert.Equal(t, []reportapi.DisruptedAllowed{{Cell: "user1-to-model", Down: true, DownRounds: 3, DownAt: 2, DowntimeSeconds: 5,
		Recovered: true, RecoveredAfterSeconds: 1}}, got.Allowed)
	assert.Equal(t, "still 0/1 available", got.RestoreError)
	assert.Equal(t, 60.0, got.RecoveryLimitSeconds)
}
