package probe

import (
	"testing"
	"unicode/utf8"
)

// Parse reads whatever a pod's shell printed: it must never panic, always
// return one outcome per request, and keep evidence printable.
func FuzzParse(f *testing.F) {
	f.Add("@@mc 0 limit 512\n\n@@mc 0 exit 0\n@@mc 0 wo {\"http_code\":200,\"size_download\":2}\n\n@@mc all curl 0\n@@mc all bodies\nb2s=\n\n@@mc all end\n", 1)
	f.Add("@@mc 1 exit 56\n@@mc 1 wo {\"errormsg\":\"reset\"}\n@@mc 9 exit x\nsh: curl: not found\n", 2)
	f.Add("@@mc -1 exit 7\n@@mc 0 wo {not json\n@@mc all bodies\n!!!\n@@mc all end\n", 1)
	f.Fuzz(func(t *testing.T, out string, n int) {
		if n < 0 || n > 64 {
			return
		}
		outs := Parse(out, n)
		if len(outs) != n {
			t.Fatalf("got %d outcomes for %d requests", len(outs), n)
		}
		for _, o := range outs {
			if o.Kind == "" {
				t.Fatal("an outcome without a kind")
			}
			if !utf8.ValidString(o.Body) {
				t.Fatalf("body excerpt is not valid UTF-8: %q", o.Body)
			}
		}
	})
}
