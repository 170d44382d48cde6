package options

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	readme     = "../../README.md"
	docsStart  = "<!-- flags:start (generated: MC_UPDATE_README=1 go test ./tests/options) -->\n"
	docsEnd    = "<!-- flags:end -->"
	updateFlag = "MC_UPDATE_README"
)

// The README's flag table is generated from the options: this fails when
// they differ; MC_UPDATE_README=1 go test ./tests/options rewrites it.
func TestREADMEFlagsTableIsGenerated(t *testing.T) {
	data, err := os.ReadFile(readme)
	require.NoError(t, err)
	s := string(data)
	i, j := strings.Index(s, docsStart), strings.Index(s, docsEnd)
	require.True(t, i >= 0 && j > i, "README.md needs the generated flags section markers")
	want := FlagsMarkdown()
	if os.Getenv(updateFlag) != "" {
		s = s[:i+len(docsStart)] + want + s[j:]
		require.NoError(t, os.WriteFile(readme, []byte(s), 0o644))
		return
	}
	assert.Equal(t, want, s[i+len(docsStart):j], "README flags table is stale: run %s=1 go test ./tests/options", updateFlag)
}

func TestEveryFlagHasAConfigKey(t *testing.T) {
	for _, line := range strings.Split(FlagsMarkdown(), "\n")[2:] {
		if line == "" || strings.Contains(line, "`--config`") {
			continue
		}
		assert.NotContains(t, line, "| `` |", "flag without a yaml key: %s", line)
	}
}
