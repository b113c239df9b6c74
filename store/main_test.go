package store

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens the fuzzer's minimization of new inputs from its 60s
// default to 2s, unless -fuzzminimizetime is given: store files are kilobytes
// long, and minimizing one takes the whole default budget, which would leave
// a short -fuzztime run with almost no fuzzing.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		_ = flag.Set("test.fuzzminimizetime", "2s")
	}
	os.Exit(m.Run())
}
