package main

import (
	"bytes"
	"testing"
	"time"
)

// YAML output has the JSON keys in their order, block style, and keeps strings that look like
// numbers or booleans (in YAML 1.1 too: yes, on) strings.
func TestPrintYAML(t *testing.T) {
	type inner struct {
		Port string `json:"port"`
		On   bool   `json:"on"`
	}
	v := struct {
		Name  string    `json:"name"`
		At    time.Time `json:"at"`
		List  []inner   `json:"list"`
		Empty []string  `json:"empty"`
		Skip  string    `json:"skip,omitempty"`
	}{Name: "h1", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), List: []inner{{Port: "16509", On: true}, {Port: "yes"}}}
	var b bytes.Buffer
	if err := printData(&b, "yaml", v); err != nil {
		t.Fatal(err)
	}
	want := `name: h1
at: "2026-01-02T03:04:05Z"
list:
  - port: "16509"
    "on": true
  - port: "yes"
    "on": false
empty: null
`
	if b.String() != want {
		t.Fatalf("YAML:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	var none []inner
	if err := printData(&b, "yaml", none); err != nil || b.String() != "[]\n" {
		t.Fatalf("nil slice as YAML: %q, %v", b.String(), err)
	}
}
