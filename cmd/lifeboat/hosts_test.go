package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestHostsJSONAndTable(t *testing.T) {
	f := newCLIFake()
	url := startDaemon(t, f, "")
	out, err := runCLI(t.Context(), "hosts", "--server", url, "-o", "json")
	if err != nil {
		t.Fatalf("hosts -o json: %v\n%s", err, out)
	}
	var hosts []map[string]any
	if err := json.Unmarshal([]byte(out), &hosts); err != nil || len(hosts) != 2 {
		t.Fatalf("hosts -o json is not a list of 2: %v\n%s", err, out)
	}
	for _, k := range []string{"name", "state", "reason", "message", "since", "vms", "role"} {
		if _, ok := hosts[1][k]; !ok {
			t.Errorf("host JSON lacks %q: %v", k, hosts[1])
		}
	}

	out, err = runCLI(t.Context(), "hosts", "--server", url)
	if err != nil {
		t.Fatalf("hosts: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATE REASON SINCE ROLE VMS MESSAGE" {
		t.Fatalf("hosts table:\n%s", out)
	}
	if got := strings.Fields(lines[2]); len(got) < 7 || got[0] != "h2" || got[1] != "failed" || !regexp.MustCompile(`^1[2-9]s$`).MatchString(got[3]) || got[4] != "standby" || got[5] != "0" {
		t.Errorf("h2 line: %q", lines[2])
	}
	if got := strings.Fields(lines[1]); !strings.HasPrefix(got[3], "3h0m") || got[5] != "2" {
		t.Errorf("h1 line: %q", lines[1])
	}
}

func TestHostsEmptyJSONIsAnEmptyList(t *testing.T) {
	f := newCLIFake()
	f.hosts = nil
	url := startDaemon(t, f, "")
	out, err := runCLI(t.Context(), "hosts", "--server", url, "-o", "json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("hosts -o json with no hosts: %v %q", err, out)
	}
}

func TestClientCommandsRejectBadInput(t *testing.T) {
	url := startDaemon(t, newCLIFake(), "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"hosts", "-o", "xml"}, `-o "xml"`},
		{[]string{"vms", "-o", "wide"}, `-o "wide"`},
		{[]string{"status", "-o", "xml"}, `-o "xml"`},
		{[]string{"events", "-o", "csv"}, `-o "csv"`},
		{[]string{"explain", "host", "h1", "-o", "yml"}, `-o "yml"`},
		{[]string{"hosts", "extra"}, `unknown command "extra"`},
		{[]string{"explain", "host"}, "want one host NAME, got 0 arguments"},
		{[]string{"explain", "host", "h1", "h2"}, "want one host NAME, got 2 arguments"},
		{[]string{"explain", "h1"}, `unknown explain target "h1"`},
		{[]string{"explain", "host", "h9"}, `unknown host "h9"`},
		{[]string{"events", "--limit", "0"}, "--limit 0"},
		{[]string{"events", "--limit", "5000"}, "--limit 5000"},
		{[]string{"events", "--after", "-3"}, `"-3"`},
	}
	for _, c := range cases {
		_, err := runCLI(t.Context(), append(c.args, "--server", url)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
