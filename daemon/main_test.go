package daemon

import (
	"os"
	"testing"

	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// TestMain lets this test binary be the BMC process of the fleet benchmark
// (fleet.StartBMCProcess runs it again with fleet.ChildEnv set).
func TestMain(m *testing.M) {
	fleet.RunChildIfAsked()
	os.Exit(m.Run())
}
