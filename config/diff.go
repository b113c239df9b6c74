package config

import (
	"reflect"
	"strings"
)

// Diff lists, in file order, the top-level sections (by their YAML names: hosts, timings,
// approval, ...) that differ from old to new.
func Diff(old, new Config) []string {
	var out []string
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(new)
	t := ov.Type()
	for i := 0; i < t.NumField(); i++ {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			out = append(out, name)
		}
	}
	return out
}
