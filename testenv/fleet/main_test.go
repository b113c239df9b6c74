package fleet

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// parentEnv makes this test binary the parent of a BMC process and nothing else, for
// TestBMCProcessDiesWithParent: it starts one, prints the child's pid, and waits to be killed.
const parentEnv = "LIFEBOAT_FLEET_TEST_PARENT"

// TestMain lets this test binary be the BMC process of StartBMCProcess, or the parent of one.
func TestMain(m *testing.M) {
	RunChildIfAsked()
	if os.Getenv(parentEnv) == "1" {
		os.Exit(runParent())
	}
	os.Exit(m.Run())
}

// runParent starts a BMC process of one host, prints its pid and blocks until killed.
func runParent() int {
	p, err := New(1).StartBMCProcess(context.Background(), []string{"h1"}, ProcessOptions{Username: "u", Password: "p"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.Pid())
	select {}
}
