package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestVMRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	want := vm(7)
	if err := db.PutVM(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetVM(ctx, want.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, want.UpdatedAt)
	}
	got.UpdatedAt = want.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetVM = %+v\nwant %+v", got, want)
	}

	// Put replaces.
	want.CurrentHost, want.State = "", "missing"
	if err := db.PutVM(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetVM(ctx, want.UUID); got.State != "missing" || got.CurrentHost != "" {
		t.Errorf("after replace: %+v", got)
	}

	if err := db.DeleteVM(ctx, want.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetVM(ctx, want.UUID); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), want.UUID) {
		t.Errorf("GetVM after delete: %v, want ErrNotFound naming the UUID", err)
	}
	if err := db.DeleteVM(ctx, want.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteVM: %v, want ErrNotFound", err)
	}
}

func TestListVMsSorted(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	recs := []VMRecord{
		{UUID: "c", Name: "web"},
		{UUID: "a", Name: "web"},
		{UUID: "b", Name: "db"},
		{UUID: "d", Name: "alpha"},
	}
	for _, r := range recs {
		if err := db.PutVM(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ListVMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range got {
		order = append(order, r.Name+"/"+r.UUID)
	}
	if want := "alpha/d db/b web/a web/c"; strings.Join(order, " ") != want {
		t.Errorf("ListVMs order %v, want %s", order, want)
	}
	empty := openNew(t, Options{})
	if got, err := empty.ListVMs(ctx); err != nil || len(got) != 0 {
		t.Errorf("ListVMs on a new store = %v, %v", got, err)
	}
}

func TestVMValidation(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	tests := []struct {
		r    VMRecord
		want string
	}{
		{VMRecord{Name: "x"}, "store: vm record: uuid is required"},
		{VMRecord{UUID: "x"}, "store: vm record: name is required"},
		{VMRecord{UUID: strings.Repeat("u", 600), Name: "x"}, "store: vm record: uuid is too long (600 bytes, at most 512)"},
	}
	for _, tt := range tests {
		err := db.PutVM(ctx, tt.r)
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("PutVM(%+v) = %v, want %q wrapping ErrInvalid", tt.r, err, tt.want)
		}
	}
	if _, err := db.GetVM(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("GetVM(\"\") = %v", err)
	}
	if vms, _ := db.ListVMs(ctx); len(vms) != 0 {
		t.Errorf("invalid records were stored: %+v", vms)
	}
}
