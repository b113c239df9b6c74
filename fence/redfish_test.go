package fence

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

func TestRedfishFence(t *testing.T) {
	s, p := startBMC(t, false)
	l := Ladder{Host: "h1", Methods: []Method{redfishMethodFor(t, s, testPass)}, Timeout: 10 * time.Second}
	res, err := l.Fence(t.Context())
	if err != nil {
		t.Fatalf("Fence: %v", err)
	}
	if res.Method != "redfish" || res.Host != "h1" || len(res.Attempts) != 1 || res.Attempts[0].Err != "" {
		t.Fatalf("result %+v", res)
	}
	if p.PowerState() != bmc.PowerOff {
		t.Fatalf("power %s after fencing", p.PowerState())
	}
	off, err := l.Methods[0].Status(t.Context())
	if err != nil || !off {
		t.Fatalf("Status after fencing: %v, %v", off, err)
	}
	// Fencing a host that is already off succeeds too.
	if _, err := l.Fence(t.Context()); err != nil {
		t.Fatalf("second Fence: %v", err)
	}
	// The method logged in with a session and does not keep one of the BMC's few sessions.
	if st := s.Stats(); st.SessionsCreated == 0 || st.SessionsOpen != 0 || st.BasicAuth != 0 {
		t.Errorf("BMC sessions after fencing: %+v; want sessions used, none left open", st)
	}
}

func TestRedfishDownTimesOut(t *testing.T) {
	s, p := startBMC(t, false)
	s.SetDown(true)
	const timeout = time.Second
	l := Ladder{Host: "h1", Methods: []Method{redfishMethodFor(t, s, testPass)}, Timeout: timeout}
	start := time.Now()
	res, err := l.Fence(t.Context())
	took := time.Since(start)
	if !errors.Is(err, ErrAllFailed) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Fence of a dead BMC: %v; want ErrAllFailed and ErrTimeout", err)
	}
	if took < timeout || took > timeout+abandonGrace+time.Second {
		t.Fatalf("took %s with a %s timeout", took, timeout)
	}
	if res.Method != "" || len(res.Attempts) != 1 || res.Attempts[0].Err == "" {
		t.Fatalf("result %+v", res)
	}
	if p.PowerState() != bmc.PowerOn {
		t.Fatal("power changed behind a dead BMC")
	}
	t.Logf("took %s: %v", took, err)
}

func TestRedfishWrongPassword(t *testing.T) {
	s, p := startBMC(t, false)
	l := Ladder{Host: "h1", Methods: []Method{redfishMethodFor(t, s, "wrong-password")}, Timeout: 5 * time.Second}
	_, err := l.Fence(t.Context())
	if !errors.Is(err, ErrAllFailed) {
		t.Fatalf("Fence with a wrong password: %v", err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Fatalf("wrong password reported as a timeout: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("error leaks the password: %v", err)
	}
	if p.calls() != 0 || p.PowerState() != bmc.PowerOn {
		t.Fatalf("wrong password reached the power")
	}
	t.Log(err)
}

func TestRedfishForceOffIgnored(t *testing.T) {
	s, p := startBMC(t, true)
	const timeout = time.Second
	l := Ladder{Host: "h1", Methods: []Method{redfishMethodFor(t, s, testPass)}, Timeout: timeout}
	start := time.Now()
	_, err := l.Fence(t.Context())
	took := time.Since(start)
	if !errors.Is(err, ErrAllFailed) || !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Fence of a host that stays on: %v; want ErrAllFailed and ErrNotVerified", err)
	}
	if took < timeout || took > timeout+abandonGrace {
		t.Fatalf("took %s with a %s timeout", took, timeout)
	}
	if p.calls() == 0 {
		t.Fatal("ForceOff never reached the BMC")
	}
	t.Log(err)
}

func TestLadderFallsThrough(t *testing.T) {
	dead, _ := startBMC(t, false)
	dead.SetDown(true)
	good, p := startBMC(t, false)
	const timeout = time.Second
	l := Ladder{Host: "h1", Timeout: timeout,
		Methods: []Method{redfishMethodFor(t, dead, testPass), redfishMethodFor(t, good, testPass)}}
	res, err := l.Fence(t.Context())
	if err != nil {
		t.Fatalf("Fence: %v", err)
	}
	if res.Method != "redfish" || len(res.Attempts) != 2 {
		t.Fatalf("result %+v", res)
	}
	if a := res.Attempts[0]; !strings.Contains(a.Err, ErrTimeout.Error()) || a.Took < timeout {
		t.Fatalf("first attempt %+v; want a timeout", a)
	}
	if a := res.Attempts[1]; a.Err != "" || a.Started.Before(res.Attempts[0].Started) {
		t.Fatalf("second attempt %+v", a)
	}
	if res.Took < res.Attempts[0].Took+res.Attempts[1].Took {
		t.Fatalf("Took %s < sum of attempts", res.Took)
	}
	if p.PowerState() != bmc.PowerOff {
		t.Fatal("second BMC's host still on")
	}
}

func TestLadderEmpty(t *testing.T) {
	_, err := Ladder{Host: "h1"}.Fence(t.Context())
	if !errors.Is(err, ErrAllFailed) || !strings.Contains(err.Error(), "no fence method configured") {
		t.Fatalf("empty ladder: %v", err)
	}
}

func TestLadderCanceled(t *testing.T) {
	s, _ := startBMC(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Ladder{Host: "h1", Methods: []Method{redfishMethodFor(t, s, testPass)}}.Fence(ctx)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ladder: %v", err)
	}
}
