package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactor(t *testing.T) {
	r := New("hf_s3cr3t", "", "ab")
	assert.Equal(t, "token="+Redacted+" and "+Redacted, r.String("token=hf_s3cr3t and hf_s3cr3t"))
	assert.Equal(t, "a b ab", r.String("a b ab"), "values under 4 characters would redact ordinary words")
	assert.Equal(t, []byte("x "+Redacted), r.Bytes([]byte("x hf_s3cr3t")))
	assert.Equal(t, "hf_s3cr3t", Redactor{}.String("hf_s3cr3t"), "the zero value redacts nothing")
}
