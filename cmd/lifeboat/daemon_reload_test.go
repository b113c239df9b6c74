package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/daemon"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

func TestReloadReportsChangesAndBadFields(t *testing.T) {
	running, err := config.Parse([]byte(`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]`))
	if err != nil {
		t.Fatal(err)
	}
	running.Store.Path = filepath.Join(t.TempDir(), "lb.db")
	ctx := context.Background()
	d, err := daemon.New(ctx, running, daemon.Options{Dial: fleet.New(1).Dial})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	next := running
	next.Approval.Mode = config.ApprovalApprove
	next.Recovery.MassFailureFraction = 0.5
	next.Recovery.FenceTimeout = config.Duration(time.Minute)
	next.API.Listen = "127.0.0.1:7500"
	applied, restart := reloadOnce(ctx, d, "f.yaml", func() (config.Config, error) { return next, nil }, log)
	if !slices.Equal(applied, []string{"recovery", "approval"}) || !slices.Equal(restart, []string{"recovery.fence_timeout", "api"}) ||
		!strings.Contains(logs.String(), "applied=recovery,approval") || !strings.Contains(logs.String(), "restart=recovery.fence_timeout,api") {
		t.Errorf("applied %v, restart %v, log:\n%s", applied, restart, logs.String())
	}
	// A second SIGHUP with the same file: what was applied is in force; the rest still waits.
	applied, restart = reloadOnce(ctx, d, "f.yaml", func() (config.Config, error) { return next, nil }, log)
	if len(applied) != 0 || !slices.Equal(restart, []string{"recovery.fence_timeout", "api"}) {
		t.Errorf("second reload: applied %v, restart %v", applied, restart)
	}
	logs.Reset()
	bad := running
	bad.Hosts = nil
	if a, r := reloadOnce(ctx, d, "f.yaml", func() (config.Config, error) { return bad, nil }, log); a != nil || r != nil || !strings.Contains(logs.String(), "field=hosts") {
		t.Errorf("invalid file: %v %v, log:\n%s", a, r, logs.String())
	}
	logs.Reset()
	if a, r := reloadOnce(ctx, d, "f.yaml", func() (config.Config, error) { return config.Config{}, errors.New("parse: boom") }, log); a != nil || r != nil || !strings.Contains(logs.String(), "parse: boom") {
		t.Errorf("unreadable file: %v %v, log:\n%s", a, r, logs.String())
	}
}

// TestReloadUsersFile: SIGHUP reads api.users_file again: a revoked token gets 401, a new one
// works, and a file that cannot be parsed changes nothing (the log names the line).
func TestReloadUsersFile(t *testing.T) {
	cfg, err := config.Parse([]byte(`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Path = filepath.Join(t.TempDir(), "lb.db")
	d, err := daemon.New(context.Background(), cfg, daemon.Options{Dial: fleet.New(1).Dial})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	tokens := map[string]string{}
	write := func(names ...string) {
		t.Helper()
		var b strings.Builder
		for _, n := range names {
			tok, u, err := api.NewToken(n, api.RoleViewer)
			if err != nil {
				t.Fatal(err)
			}
			if old, ok := tokens[n]; ok { // keep the user's token: same hash
				tok, u.Hash = old, sha256.Sum256([]byte(old))
			}
			tokens[n] = tok
			b.WriteString(u.Line() + "\n")
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice", "bob")
	users, err := api.ReadUsersFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewServer(d, api.ServerOptions{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	status := func(name string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tokens[name])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := status("alice"), status("bob"); a != 200 || b != 200 {
		t.Fatalf("before: alice %d, bob %d", a, b)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	uf := &usersFile{path: path, users: users}
	write("alice", "carol") // bob revoked, carol created
	uf.reload(log)
	if a, b, c := status("alice"), status("bob"), status("carol"); a != 200 || b != 401 || c != 200 {
		t.Errorf("after the reload: alice %d, bob %d, carol %d; want 200, 401, 200\n%s", a, b, c, logs.String())
	}
	if err := os.WriteFile(path, []byte("alice viewer sha256:nothex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	uf.reload(log)
	if a, c := status("alice"), status("carol"); a != 200 || c != 200 || !strings.Contains(logs.String(), "line 1") {
		t.Errorf("after a bad file: alice %d, carol %d (want both 200, unchanged); log:\n%s", a, c, logs.String())
	}
	var none *usersFile
	none.reload(log) // no api.users_file: nothing to do
}
