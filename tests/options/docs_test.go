package options

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	flagsPage  = "../../docs/flags.md"
	docsStart  = "<!-- flags:start (generated: MC_UPDATE_DOCS=1 go test ./tests/options) -->\n"
	docsEnd    = "<!-- flags:end -->"
	updateFlag = "MC_UPDATE_DOCS"
)

// The flags page's tables are generated from the options: this fails when
// they differ; MC_UPDATE_DOCS=1 go test ./tests/options rewrites them
// between the markers, leaving the page's prose as written.
func TestFlagsPageIsGenerated(t *testing.T) {
	data, err := os.ReadFile(flagsPage)
	require.NoError(t, err)
	s := string(data)
	i, j := strings.Index(s, docsStart), strings.Index(s, docsEnd)
	require.True(t, i >= 0 && j > i, "docs/flags.md needs the generated flags section markers")
	want := flagsMarkdown()
	if os.Getenv(updateFlag) != "" {
		s = s[:i+len(docsStart)] + want + s[j:]
		require.NoError(t, os.WriteFile(flagsPage, []byte(s), 0o644))
		return
	}
	assert.Equal(t, want, s[i+len(docsStart):j], "docs/flags.md is stale: run %s=1 go test ./tests/options", updateFlag)
}

func TestEveryFlagHasAConfigKey(t *testing.T) {
	for _, line := range strings.Split(flagsMarkdown(), "\n") {
		if !strings.HasPrefix(line, "| `--") || strings.Contains(line, "`--config`") {
			continue
		}
		assert.NotContains(t, line, "| `` |", "flag without a yaml key: %s", line)
	}
}

// The usage and the flags page group every flag once.
func TestEveryFlagIsInOneGroup(t *testing.T) {
	o := Defaults()
	fs := flag.NewFlagSet("groups", flag.ContinueOnError)
	Register(fs, &o)
	seen := map[string]int{}
	for _, g := range FlagGroups {
		for _, name := range g.Flags {
			assert.NotNil(t, fs.Lookup(name), "group %q names no flag %q", g.Title, name)
			seen[name]++
		}
	}
	fs.VisitAll(func(f *flag.Flag) { assert.Equal(t, 1, seen[f.Name], "--%s is in %d groups", f.Name, seen[f.Name]) })
}

// flagsMarkdown renders the options as Markdown tables, one per group of
// FlagGroups (flag, config file key, default, meaning), generated from
// Register and the struct's yaml tags, so the flags page never drifts from
// the code.
func flagsMarkdown() string {
	o := Defaults()
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	Register(fs, &o)
	keys := yamlKeys(reflect.ValueOf(&o).Elem(), "")
	var b strings.Builder
	for i, g := range FlagGroups {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**%s**\n\n| flag | config key | default | meaning |\n|---|---|---|---|\n", g.Title)
		for _, name := range g.Flags {
			if f := fs.Lookup(name); f != nil {
				row(&b, f, keys)
			}
		}
	}
	return b.String()
}

func row(b *strings.Builder, f *flag.Flag, keys map[uintptr]string) {
	target := reflect.ValueOf(f.Value).Pointer()
	if bound, ok := f.Value.(interface{ boundTo() any }); ok {
		target = reflect.ValueOf(bound.boundTo()).Pointer()
	}
	key := keys[target]
	if f.Name == "config" || f.Name == "list-modes" {
		key = "-" // command-line only
	}
	def := f.DefValue
	if def == "" {
		def = " "
	}
	fmt.Fprintf(b, "| `--%s` | `%s` | `%s` | %s |\n", f.Name, key, def, f.Usage)
}

// boundTo is the option the flag writes, for the flags page's table.
func (l *listFlag) boundTo() any      { return l.list }
func (c *choiceFlag[T]) boundTo() any { return c.v }
