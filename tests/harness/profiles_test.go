package harness

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// twoProfiles is a suite with the two KServe profiles: a cell that the
// hardened profile refuses, one both allow, and a control only the
// hardened profile runs.
func twoProfiles() *Suite {
	hardened := func(o options.Options) bool { return o.KServeProfile == options.KServeHardened }
	client := matrix.Client{Name: "user2", Namespace: "user2"}
	req := probe.Request{URL: "http://model/"}
	return &Suite{Name: "s", Features: []Feature{
		{Name: "isolation", Kind: KindMatrix, Matrices: func(_ context.Context, o options.Options, _ Facts) ([]matrix.Matrix, error) {
			burst := matrix.Expect(matrix.Allowed)
			if hardened(o) {
				burst = matrix.Expect(matrix.DeniedHTTP403).WithNote("hardened")
			}
			return []matrix.Matrix{{Name: "iso", Cells: []matrix.Cell{
				{Name: "same", Client: client, Request: req, Expect: matrix.Expect(matrix.Allowed)},
				{Name: "burst", Client: client, Request: req, Expect: burst},
			}}}, nil
		}},
		{Name: "control", Kind: KindMatrix, Applies: hardened, Matrices: Fixed(matrix.Matrix{Name: "ctl", Cells: []matrix.Cell{
			{Name: "burst", Client: client, Request: req, Expect: matrix.Expect(matrix.Allowed)}}})},
	},
		Profile:  func(o options.Options) string { return string(o.KServeProfile) },
		Profiles: func(o options.Options) []options.Options { return withProfiles(o, options.KServeProfiles...) }}
}

// Only the cell whose expectation differs is listed, with both
// expectations, whichever profile the run is under; a cell one profile
// alone has (its control) and a cell both expect alike are not.
func TestProfileCellsAreTheCellsTheProfilesDisagreeOn(t *testing.T) {
	want := []reportapi.ProfileCell{{Matrix: "iso", Cell: "burst", Client: "user2", Request: "GET http://model/",
		Expected: map[string]string{"documented": "allowed (2xx)", "hardened": "denied (HTTP 403)"}}}
	for _, o := range withProfiles(options.Defaults(), options.KServeProfiles...) {
		p := o.KServeProfile
		got, err := twoProfiles().ProfileCells(o)
		require.NoError(t, err)
		assert.Equal(t, want, got, "run under %s", p)
	}
	got, err := (&Suite{Name: "one", Features: twoProfiles().Features}).ProfileCells(options.Defaults())
	require.NoError(t, err)
	assert.Nil(t, got, "a suite with one setup has nothing to put side by side")
}

// A matrix function that fails under a profile is an error that names
// the profile and the feature: the side by side would be wrong without it.
func TestProfileCellsSayWhichProfileFailed(t *testing.T) {
	s := twoProfiles()
	s.Features = append(s.Features, Feature{Name: "broken", Kind: KindMatrix, Applies: func(o options.Options) bool {
		return o.KServeProfile == options.KServeHardened
	}, Matrices: func(context.Context, options.Options, Facts) ([]matrix.Matrix, error) {
		return nil, errors.New("no facts")
	}})
	_, err := s.ProfileCells(options.Defaults())
	require.Error(t, err)
	assert.Equal(t, "profile hardened: feature broken: matrices: no facts", err.Error())
}

// withProfiles are o under each KServe profile.
func withProfiles(o options.Options, ps ...options.KServeProfile) []options.Options {
	var out []options.Options
	for _, p := range ps {
		o.KServeProfile = p
		out = append(out, o)
	}
	return out
}

// --setup=as-written is refused for a suite without an as-written run,
// before anything is touched; the corrected setup is every suite's.
func TestAsWrittenNeedsASuiteThatHasIt(t *testing.T) {
	o := options.Defaults()
	require.NoError(t, (&Suite{Name: "s"}).checkSetup(o))
	o.Setup = options.SetupAsWritten
	assert.EqualError(t, (&Suite{Name: "s"}).checkSetup(o), "--setup=as-written: suite s has no as-written run")
	assert.NoError(t, (&Suite{Name: "s", AsWritten: true}).checkSetup(o))
}
