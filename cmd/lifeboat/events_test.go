package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
)

func TestEventsListAndJSON(t *testing.T) {
	f := newCLIFake()
	url := startDaemon(t, f, "")
	out, err := runCLI(t.Context(), "events", "--server", url)
	if err != nil {
		t.Fatalf("events: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "TIME KIND HOST/VM REASON MESSAGE" || !strings.HasSuffix(lines[3], "h2 fenced") {
		t.Fatalf("events table:\n%s", out)
	}
	// Without --after: the last --limit events.
	out, err = runCLI(t.Context(), "events", "--server", url, "--limit", "2", "-o", "json")
	var evs []api.Event
	if err != nil || json.Unmarshal([]byte(out), &evs) != nil || len(evs) != 2 || evs[0].Seq != 2 || evs[1].Seq != 3 {
		t.Errorf("events --limit 2 -o json: %v\n%s", err, out)
	}
	out, err = runCLI(t.Context(), "events", "--server", url, "--after", "1", "--limit", "1", "-o", "json")
	if err != nil || json.Unmarshal([]byte(out), &evs) != nil || len(evs) != 1 || evs[0].Seq != 2 {
		t.Errorf("events --after 1 --limit 1: %v\n%s", err, out)
	}
	out, err = runCLI(t.Context(), "events", "--server", url, "--after", "3", "-o", "json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("events --after 3 -o json: %v %q", err, out)
	}
}

func TestEventsFollow(t *testing.T) {
	for _, output := range []string{"table", "json"} {
		t.Run(output, func(t *testing.T) {
			f := newCLIFake()
			url := startDaemon(t, f, "")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var out syncBuffer
			root := newRootCmd()
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs([]string{"events", "--follow", "--limit", "1", "--server", url, "-o", output})
			done := make(chan error, 1)
			go func() { done <- root.ExecuteContext(ctx) }()

			waitFor := func(what string, cond func() bool) {
				t.Helper()
				deadline := time.Now().Add(3 * time.Second)
				for !cond() {
					if time.Now().After(deadline) {
						t.Fatalf("timed out waiting for %s; output so far:\n%s", what, out.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			waitFor("the last event", func() bool { return strings.Contains(out.String(), "h2 fenced") })
			f.add(api.Event{At: time.Now(), Kind: "restart", Host: "h1", VM: "db1", Reason: "host_fenced", Message: "db1 restarted on h1"})
			f.add(api.Event{At: time.Now(), Kind: "migration", VM: "web1", Message: "web1 moved home"})
			waitFor("the new events", func() bool { return strings.Contains(out.String(), "web1 moved home") })
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("events --follow after interrupt: %v", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("events --follow did not stop")
			}
			got := out.String()
			if strings.Contains(got, "h2 failed") {
				t.Errorf("--limit 1 printed older events:\n%s", got)
			}
			if strings.Index(got, "h2 fenced") > strings.Index(got, "db1 restarted") || strings.Index(got, "db1 restarted") > strings.Index(got, "web1 moved home") {
				t.Errorf("events out of order:\n%s", got)
			}
			if output == "table" && !strings.Contains(got, "h1/db1") {
				t.Errorf("no HOST/VM cell:\n%s", got)
			}
			if output == "json" {
				for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
					var e api.Event
					if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq == 0 {
						t.Errorf("line %q: %v", l, err)
					}
				}
			}
		})
	}
}

// TestEventsCannotForgeLines: a message, reason or host with newlines or terminal escapes prints
// as one line with the control characters escaped.
func TestEventsCannotForgeLines(t *testing.T) {
	f := newCLIFake()
	f.add(api.Event{At: time.Now(), Kind: "observation", Host: "h1\x1b[2K", Reason: "alert\rx",
		Message: "disk\n2026-01-01 00:00:00.000  verdict       h2                healthy                   all fine\x1b[31m"})
	url := startDaemon(t, f, "")
	out, err := runCLI(t.Context(), "events", "--server", url, "--limit", "1")
	if err != nil {
		t.Fatalf("events: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.ContainsAny(out, "\x1b\r") {
		t.Fatalf("one event printed as %d lines, or with raw control characters:\n%q", len(lines)-1, out)
	}
	for _, want := range []string{`h1\x1b[2K`, `alert\rx`, `disk\n2026-01-01`, `all fine\x1b[31m`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("the line %q does not show %q", lines[1], want)
		}
	}
}
