package options

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNearestAndUnknownFlags(t *testing.T) {
	o := Defaults()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	Register(fs, &o)
	assert.Equal(t, "unknown flag --moed; did you mean --mode?", UnknownFlag(fs, []string{"--moed=ambient"}))
	assert.Equal(t, "unknown flag --readytimeout; did you mean --ready-timeout?", UnknownFlag(fs, []string{"--readytimeout=1m"}))
	assert.Equal(t, "unknown flag --zzz", UnknownFlag(fs, []string{"--zzz"}), "no suggestion when nothing is close")
	assert.Empty(t, UnknownFlag(fs, []string{"--mode=ambient", "value", "--", "--not-a-flag"}))
	assert.Equal(t, "", Nearest("istio", []string{"mode", "kserve-version"}))
}

func TestUsageIsShortAndTheSuites(t *testing.T) {
	var b bytes.Buffer
	Usage(&b, "opeaistio")()
	out := b.String()
	assert.Contains(t, out, "usage: go test -tags e2e ./suites/opeaistio/ -args [flags]", "without the tag the suite's TestMain is not built")
	assert.Contains(t, out, "see docs/flags.md")
	assert.Contains(t, out, "--mode")
	assert.NotContains(t, out, "feature-gates")
	assert.NotContains(t, out, "test.v")
	assert.Less(t, bytes.Count(b.Bytes(), []byte("\n")), 70)
}

func TestAMisspeltConfigKeyGetsTheNearestName(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte("moed: ambient\n"), 0o644))
	_, err := ReadConfigFile(p, Defaults())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `did you mean "mode"?`)
}
