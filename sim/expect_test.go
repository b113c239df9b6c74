package sim

import (
	"strings"
	"testing"
)

func TestDiffShowsChangesWithContext(t *testing.T) {
	want := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
	got := []string{"a", "b", "c", "d", "e", "X", "g", "h", "i"}
	d := Diff(want, got)
	if !strings.Contains(d, "- f\n") || !strings.Contains(d, "+ X\n") || strings.Contains(d, "  a\n") || !strings.Contains(d, "  c\n") {
		t.Errorf("diff:\n%s", d)
	}
	if Diff(want, want) != "" {
		t.Error("equal logs differ")
	}
}

func TestWithExpectReplacesTheLastSection(t *testing.T) {
	in := "description: x\nevents: []\nexpect: |\n  old line\n"
	out := string(WithExpect([]byte(in), []string{"1.0s new"}))
	if out != "description: x\nevents: []\nexpect: |\n  1.0s new\n" {
		t.Errorf("got %q", out)
	}
	out = string(WithExpect([]byte("description: x\n"), []string{"1.0s new"}))
	if out != "description: x\nexpect: |\n  1.0s new\n" {
		t.Errorf("got %q", out)
	}
}
