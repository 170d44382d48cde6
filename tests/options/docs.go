package options

import (
	"flag"
	"fmt"
	"reflect"
	"strings"
)

// FlagsMarkdown renders the options as a Markdown table (flag, config file
// key, default, meaning), generated from Register and the struct's yaml
// tags, so the README never drifts from the code.
func FlagsMarkdown() string {
	o := Defaults()
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	Register(fs, &o)
	keys := yamlKeys(reflect.ValueOf(&o).Elem(), "")
	var b strings.Builder
	b.WriteString("| flag | config key | default | meaning |\n|---|---|---|---|\n")
	fs.VisitAll(func(f *flag.Flag) {
		target := reflect.ValueOf(f.Value).Pointer()
		if b, ok := f.Value.(interface{ boundTo() any }); ok {
			target = reflect.ValueOf(b.boundTo()).Pointer()
		}
		key := keys[target]
		if f.Name == "config" || f.Name == "list-modes" {
			key = "-" // command-line only
		}
		def := f.DefValue
		if def == "" {
			def = " "
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | `%s` | %s |\n", f.Name, key, def, f.Usage)
	})
	return b.String()
}

// yamlKeys maps each field's address to its dotted yaml key.
func yamlKeys(v reflect.Value, prefix string) map[uintptr]string {
	out := map[uintptr]string{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		out[fv.Addr().Pointer()] = key
		if fv.Kind() == reflect.Struct {
			for k, s := range yamlKeys(fv, key+".") {
				out[k] = s
			}
		}
	}
	return out
}
