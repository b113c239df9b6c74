package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	url := startDaemon(t, newCLIFake(), "")
	out, err := runCLI(t.Context(), "status", "--server", url)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"cluster:", "lab", "version test, leader", "hosts:", "2: 1 healthy, 1 failed", "vms:", "2, 1 protected", "last event:", "#3", "up:", "1h0m", "store:", "memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t.Context(), "status", "--server", url, "-o", "json")
	var st map[string]any
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st["cluster"] != "lab" || st["last_event"] != float64(3) {
		t.Errorf("status -o json: %v\n%s", err, out)
	}
}
