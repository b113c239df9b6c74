package policy_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-ha/lifeboat/sim"
)

// update rewrites every scenario's expect section with the log the engine produced. Review
// every diff (git diff policy/testdata) before committing: an expected log says what SHOULD
// happen, not what the code happens to do.
var update = flag.Bool("update", false, "rewrite the scenarios' expected action logs (review every diff)")

// TestScenarios replays every scenario of testdata/scenarios through the simulator and the
// reconciler, and compares the action log with the expected one; every invariant must hold.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Errorf("%d scenario files, want at least 40", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := sim.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			res := sim.Run(sc)
			for _, v := range res.Violations {
				t.Errorf("invariant violated: %s", v)
			}
			got := res.Log()
			if *update {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, sim.WithExpect(b, got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !sc.HasExpect {
				t.Fatalf("no expect section; run 'go test ./policy -run TestScenarios -update' and review the diff")
			}
			if d := sim.Diff(sc.Expect, got); d != "" {
				t.Errorf("the action log differs from expect (- expected, + got):\n%s", d)
			}
		})
	}
}
