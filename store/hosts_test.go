package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHostRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	for _, name := range []string{"kvm3", "kvm1", "kvm2"} {
		h := HostRecord{Name: name, Role: "compute", State: "up", Reason: "ok", Message: name + " answers",
			Since: t0, UpdatedAt: t0.Add(time.Second)}
		if err := db.PutHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	verdict := HostRecord{Name: "kvm2", Role: "compute", State: "dead", Reason: "fenced",
		Message: "kvm2 was powered off through its BMC", Since: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)}
	if err := db.PutHost(ctx, verdict); err != nil {
		t.Fatal(err)
	}
	hosts, err := db.ListHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 3 || hosts[0].Name != "kvm1" || hosts[1].Name != "kvm2" || hosts[2].Name != "kvm3" {
		t.Fatalf("ListHosts = %+v", hosts)
	}
	got := hosts[1]
	if got.State != "dead" || got.Reason != "fenced" || got.Message != verdict.Message || !got.Since.Equal(verdict.Since) {
		t.Errorf("kvm2 = %+v, want %+v", got, verdict)
	}
	if h, err := db.GetHost(ctx, "kvm2"); err != nil || h.State != "dead" {
		t.Errorf("GetHost = %+v, %v", h, err)
	}
	if _, err := db.GetHost(ctx, "kvm9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetHost missing = %v", err)
	}
}

func TestHostValidation(t *testing.T) {
	db := openNew(t, Options{})
	err := db.PutHost(context.Background(), HostRecord{State: "up"})
	if err == nil || err.Error() != "store: host record: name is required" || !errors.Is(err, ErrInvalid) {
		t.Errorf("PutHost without name = %v", err)
	}
}
