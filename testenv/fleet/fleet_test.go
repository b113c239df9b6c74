package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

var _ hypervisor.Dialer = (*Fleet)(nil).Dial

func TestHostMemoryAndDomainState(t *testing.T) {
	ctx := context.Background()
	f := New(2)
	hh, err := f.Dial(ctx, "h1", "", hypervisor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := f.Host("h1")
	if m, err := hh.NodeMemory(ctx); err != nil || m != DefaultMemory || m.AvailableShare() != 0.5 {
		t.Fatalf("default memory: %+v %v", m, err)
	}
	pressure := hypervisor.NodeMemory{TotalKiB: 1 << 20, FreeKiB: 1 << 15}
	h.SetMemory(pressure)
	if m, err := hh.NodeMemory(ctx); err != nil || m != pressure {
		t.Fatalf("memory after SetMemory: %+v %v", m, err)
	}

	doms, _ := hh.Domains(ctx)
	if err := h.SetDomainState(doms[1].UUID, hypervisor.StatePaused, hypervisor.ReasonIOError); err != nil {
		t.Fatal(err)
	}
	doms, _ = hh.Domains(ctx)
	if doms[0].PausedOnError() || !doms[1].PausedOnError() {
		t.Fatalf("domains after SetDomainState: %+v", doms)
	}
	if err := h.SetDomainState("no-such-uuid", hypervisor.StatePaused, "user"); !errors.Is(err, hypervisor.ErrNoDomain) {
		t.Errorf("unknown domain: %v, want ErrNoDomain", err)
	}

	h.SetOutcome(hypervisor.ProbeTimeout)
	if _, err := hh.NodeMemory(ctx); !errors.Is(err, hypervisor.ErrNotConnected) {
		t.Errorf("memory of an unreachable host: %v, want ErrNotConnected", err)
	}
}

// TestPowerLossThroughBMC: hosts with BMC emulators answer a real Redfish client over HTTPS with
// a session; CutPower makes the BMC say off and the libvirt probe time out after the dialer's
// probe timeout, with the domains shut off; RestorePower brings libvirt back with the domains
// still off; a Redfish ForceOff through the emulator cuts the power the same way, and a restart
// elsewhere is recorded.
func TestPowerLossThroughBMC(t *testing.T) {
	ctx := t.Context()
	f := New(2)
	t.Cleanup(func() { f.Close() })
	srvs, err := f.StartBMCs(ctx, []string{"h1", "h2"}, BMCOptions{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if !srvs[0].Certificate().Equal(srvs[1].Certificate()) {
		t.Error("the emulators do not share one certificate")
	}
	sum := sha256.Sum256(srvs[0].Certificate().Raw)
	client := func(s *bmc.Server, id string) *redfish.Client {
		c, err := redfish.New(s.URL(), id, redfish.Credentials{Username: "u", Password: "p"},
			redfish.Trust{PinnedSHA256: hex.EncodeToString(sum[:])}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.WithoutCancel(ctx)) })
		return c
	}
	c1, c2 := client(srvs[0], "h1"), client(srvs[1], "h2")
	hh, err := f.Dial(ctx, "h1", "", hypervisor.Options{ProbeTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if hh != hypervisor.Host(f.Host("h1")) {
		t.Fatal("Dial made a new host instead of the one with the BMC")
	}
	power := func(c *redfish.Client) string {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Power
	}
	if p, pr := power(c1), hh.Probe(ctx); p != "on" || pr.Outcome != hypervisor.ProbeOK {
		t.Fatalf("before: power %q, probe %s", p, pr.Outcome)
	}
	if err := f.CutPower("h1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pr := hh.Probe(ctx)
	if p := power(c1); p != "off" || pr.Outcome != hypervisor.ProbeTimeout || time.Since(start) < 50*time.Millisecond {
		t.Errorf("after CutPower: power %q, probe %s after %s; want off, a timeout after the probe timeout", p, pr.Outcome, time.Since(start))
	}
	if _, err := hh.Domains(ctx); !errors.Is(err, hypervisor.ErrNotConnected) {
		t.Errorf("domains of a host without power: %v, want ErrNotConnected", err)
	}
	if err := f.RestorePower("h1"); err != nil {
		t.Fatal(err)
	}
	doms, err := hh.Domains(ctx)
	if p := power(c1); p != "on" || err != nil || len(doms) != 2 || doms[0].State != hypervisor.StateShutoff {
		t.Errorf("after RestorePower: power %q, domains %+v (%v); want on, 2 shut off", p, doms, err)
	}

	// A fence through Redfish, then a restart of h2's first domain on h1.
	h2, _ := f.Dial(ctx, "h2", "", hypervisor.Options{ProbeTimeout: 50 * time.Millisecond})
	doms2, _ := h2.Domains(ctx)
	def, _ := h2.DomainXML(ctx, doms2[0].UUID)
	if err := c2.ForceOff(ctx); err != nil {
		t.Fatal(err)
	}
	if p := power(c2); p != "off" || f.Host("h2").Powered() {
		t.Errorf("after ForceOff: power %q, powered %v", p, f.Host("h2").Powered())
	}
	if err := hh.StartDomain(ctx, def); err != nil {
		t.Fatal(err)
	}
	if s, ok := f.Started(doms2[0].UUID); !ok || s.Host != "h1" {
		t.Errorf("Started: %+v %v, want on h1", s, ok)
	}
	if err := h2.StartDomain(ctx, def); !errors.Is(err, hypervisor.ErrNotConnected) {
		t.Errorf("start on a host without power: %v, want ErrNotConnected", err)
	}
	if err := f.CutPower("nope"); err == nil {
		t.Error("CutPower of an unknown host succeeded")
	}
}
