package bmc

import (
	"net/http"
	"testing"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// connectGofish connects gofish to s with basic auth, as the lab's fencing
// code does.
func connectGofish(t *testing.T, s *Server, password string) *gofish.APIClient {
	t.Helper()
	c, err := gofish.ConnectContext(t.Context(), gofish.ClientConfig{
		Endpoint:  s.URL(),
		Username:  testUser,
		Password:  password,
		Insecure:  true,
		BasicAuth: true,
	})
	if err != nil {
		t.Fatalf("gofish connect: %v", err)
	}
	t.Cleanup(func() {
		if tr, ok := c.HTTPClient.Transport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	return c
}

// gofishSystem lists the systems with gofish and returns the only one.
func gofishSystem(t *testing.T, c *gofish.APIClient) *schemas.ComputerSystem {
	t.Helper()
	systems, err := c.GetService().Systems()
	if err != nil {
		t.Fatalf("gofish Systems: %v", err)
	}
	if len(systems) != 1 {
		t.Fatalf("gofish Systems: %d systems, want 1", len(systems))
	}
	return systems[0]
}

func TestGofish(t *testing.T) {
	s, power := startServer(t)
	c := connectGofish(t, s, testPass)
	if v := c.GetService().RedfishVersion; v != "1.15.0" {
		t.Errorf("RedfishVersion %q", v)
	}

	sys := gofishSystem(t, c)
	if sys.ID != testID || sys.ODataID != "/redfish/v1/Systems/h1" {
		t.Errorf("system ID %q, @odata.id %q", sys.ID, sys.ODataID)
	}
	if sys.PowerState != schemas.OnPowerState || sys.Status.Health != schemas.OKHealth || sys.Status.State != schemas.EnabledState {
		t.Errorf("system: PowerState %s, Health %s, State %s", sys.PowerState, sys.Status.Health, sys.Status.State)
	}
	types, err := sys.GetSupportedResetTypes()
	if err != nil || len(types) != 3 {
		t.Errorf("supported reset types %v, %v", types, err)
	}

	s.SetHealth(HealthCritical, "PSU 1 lost input")
	sys = gofishSystem(t, c)
	if sys.Status.Health != schemas.CriticalHealth || sys.Status.HealthRollup != schemas.CriticalHealth {
		t.Errorf("Health %s, HealthRollup %s; want Critical", sys.Status.Health, sys.Status.HealthRollup)
	}
	if conds := sys.Status.Conditions; len(conds) != 1 || conds[0].Message != "PSU 1 lost input" || conds[0].Severity != schemas.CriticalHealth {
		t.Errorf("Conditions %+v", conds)
	}

	if _, err := sys.Reset(schemas.ForceOffResetType); err != nil {
		t.Fatalf("gofish Reset(ForceOff): %v", err)
	}
	if power.PowerState() != PowerOff {
		t.Fatalf("power %s after ForceOff", power.PowerState())
	}
	sys = gofishSystem(t, c)
	if sys.PowerState != schemas.OffPowerState || sys.Status.State != schemas.StandbyOfflineState {
		t.Errorf("after ForceOff: PowerState %s, State %s", sys.PowerState, sys.Status.State)
	}

	if _, err := sys.Reset(schemas.OnResetType); err != nil {
		t.Fatalf("gofish Reset(On): %v", err)
	}
	if _, err := sys.Reset(schemas.ForceRestartResetType); err != nil {
		t.Fatalf("gofish Reset(ForceRestart): %v", err)
	}
	if off, on := power.calls(); power.PowerState() != PowerOn || off != 2 || on != 2 {
		t.Errorf("after On and ForceRestart: power %s, off=%d on=%d; want On, 2, 2", power.PowerState(), off, on)
	}

	// gofish itself refuses a type the BMC does not advertise.
	if _, err := sys.Reset(schemas.GracefulShutdownResetType); err == nil {
		t.Error("gofish Reset(GracefulShutdown) succeeded; it is not advertised")
	}
}

func TestGofishPowerFailure(t *testing.T) {
	s, power := startServer(t)
	sys := gofishSystem(t, connectGofish(t, s, testPass))
	power.fail(errSimulated)
	_, err := sys.Reset(schemas.ForceOffResetType)
	rfErr, ok := err.(*schemas.Error)
	if !ok || rfErr.HTTPReturnedStatusCode != http.StatusInternalServerError {
		t.Fatalf("Reset with a failing power: %T %v, want a gofish 500 error", err, err)
	}
}

func TestGofishWrongPassword(t *testing.T) {
	s, _ := startServer(t)
	c := connectGofish(t, s, "wrong") // the service root is public, so this connects
	_, err := c.GetService().Systems()
	if err == nil {
		t.Fatal("listing systems with a wrong password succeeded")
	}
	t.Logf("refused as expected: %v", err)
}
