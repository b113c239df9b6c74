package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
