package fleet

import (
	"os"
	"testing"
)

// TestMain lets this test binary be the BMC process of StartBMCProcess.
func TestMain(m *testing.M) {
	RunChildIfAsked()
	os.Exit(m.Run())
}
