package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVMsJSONAndTable(t *testing.T) {
	url := startDaemon(t, newCLIFake(), "")
	out, err := runCLI(t.Context(), "vms", "--server", url, "-o", "json")
	if err != nil {
		t.Fatalf("vms -o json: %v\n%s", err, out)
	}
	var vms []map[string]any
	if err := json.Unmarshal([]byte(out), &vms); err != nil || len(vms) != 2 {
		t.Fatalf("vms -o json is not a list of 2: %v\n%s", err, out)
	}
	for _, k := range []string{"name", "uuid", "host", "home_host", "state", "protected", "priority"} {
		if _, ok := vms[0][k]; !ok {
			t.Errorf("VM JSON lacks %q: %v", k, vms[0])
		}
	}
	out, err = runCLI(t.Context(), "vms", "--server", url)
	if err != nil {
		t.Fatalf("vms: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME HOST HOME STATE PROTECTED PRIORITY UUID" {
		t.Fatalf("vms table:\n%s", out)
	}
	if got := strings.Join(strings.Fields(lines[2]), " "); got != "db1 - h2 shutoff no 100 0b6f4a8e-0000-4000-8000-000000000002" {
		t.Errorf("db1 line: %q", got)
	}
}
