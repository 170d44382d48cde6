// Package redact owns the redaction of secrets (a Hugging Face token):
// the run builds one Redactor from its environment and hands it to its
// logging, the report and the diagnostics bundles, so that every output
// is scrubbed by the same rule.
package redact

import "strings"

// Redacted replaces every secret value.
const Redacted = "[REDACTED]"

// minLen: shorter values would redact ordinary words.
const minLen = 4

// Redactor replaces known secret values. The zero value redacts nothing.
type Redactor struct{ secrets []string }

// New returns a Redactor of the given values; empty and too short values
// are ignored.
func New(secrets ...string) Redactor {
	var keep []string
	for _, s := range secrets {
		if len(s) >= minLen {
			keep = append(keep, s)
		}
	}
	return Redactor{secrets: keep}
}

// String replaces every occurrence of each secret with Redacted.
func (r Redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// Bytes is String for file contents.
func (r Redactor) Bytes(b []byte) []byte {
	if len(r.secrets) == 0 {
		return b
	}
	return []byte(r.String(string(b)))
}
