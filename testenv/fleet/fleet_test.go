package fleet

import (
	"context"
	"errors"
	"testing"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
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
