package config

import (
	"slices"
	"testing"
)

func TestDiffNamesChangedSections(t *testing.T) {
	a, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("no change: %v", d)
	}
	b, err := Parse([]byte(good + "approval: {mode: approve}\napi: {listen: \"127.0.0.1:7401\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b.Hosts[1].Role = RoleActive
	if d := Diff(a, b); !slices.Equal(d, []string{"hosts", "approval", "api"}) {
		t.Errorf("diff: %v", d)
	}
}
