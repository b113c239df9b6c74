package testenv

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSlotsEnv: LIFEBOAT_LAB_SLOTS picks how many labs run at once; anything but 1 to 16 is
// refused, naming the variable.
func TestSlotsEnv(t *testing.T) {
	for v, want := range map[string]int{"": defaultSlots, "1": 1, "3": 3, "16": 16} {
		t.Setenv(slotEnv, v)
		if n, err := LabSlots(); err != nil || n != want {
			t.Errorf("%s=%q: %d, %v; want %d", slotEnv, v, n, err, want)
		}
	}
	for _, v := range []string{"0", "-1", "17", "two", "1.5"} {
		t.Setenv(slotEnv, v)
		if _, err := LabSlots(); err == nil || !strings.Contains(err.Error(), slotEnv) {
			t.Errorf("%s=%q: %v, want an error naming %s", slotEnv, v, err, slotEnv)
		}
	}
}

// TestSlotExclusive: a held slot is refused to a second taker, in the same process too (flock
// locks belong to the open file), and is free again once its holder closes it.
func TestSlotExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot.lock")
	first, err := tryLockSlot(path)
	if err != nil || first == nil {
		t.Fatalf("a free slot: %v, %v", first, err)
	}
	second, err := tryLockSlot(path)
	if err != nil || second != nil {
		t.Fatalf("a held slot was given again: %v, %v", second, err)
	}
	first.Close()
	third, err := tryLockSlot(path)
	if err != nil || third == nil {
		t.Fatalf("a freed slot: %v, %v", third, err)
	}
	third.Close()
	if _, err := tryLockSlot(filepath.Join(t.TempDir(), "missing", "slot.lock")); err == nil || !strings.Contains(err.Error(), "lab slot") {
		t.Errorf("an unusable slot file: %v", err)
	}
}
