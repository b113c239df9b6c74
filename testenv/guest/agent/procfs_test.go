package main

import "testing"

func TestCmdlineName(t *testing.T) {
	for in, want := range map[string]string{
		"console=ttyS0 lb.name=t1 lb.ip=10.0.2.15/24\n": "t1",
		"lb.name=a lb.name=b":                           "b",
		"console=ttyS0 xlb.name=no":                     "",
		"":                                              "",
	} {
		if got := cmdlineName(in); got != want {
			t.Errorf("cmdlineName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseUptime(t *testing.T) {
	if v, err := parseUptime("4.27 3.10\n"); err != nil || v != 4.27 {
		t.Errorf("parseUptime = %v, %v; want 4.27", v, err)
	}
	if _, err := parseUptime(""); err == nil {
		t.Error("parseUptime(\"\") succeeded")
	}
}

func TestParseMemAvailable(t *testing.T) {
	const meminfo = "MemTotal:         114620 kB\nMemFree:           80000 kB\nMemAvailable:      92160 kB\n"
	if v, err := parseMemAvailable(meminfo); err != nil || v != 90 {
		t.Errorf("parseMemAvailable = %v, %v; want 90", v, err)
	}
	if _, err := parseMemAvailable("MemTotal: 1 kB\n"); err == nil {
		t.Error("parseMemAvailable without MemAvailable succeeded")
	}
}
