package main

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/config"
)

func TestReloadReportsChangesAndBadFields(t *testing.T) {
	running, err := config.Parse([]byte(`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]`))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	next := running
	next.Approval.Mode = config.ApprovalApprove
	next.API.Listen = "127.0.0.1:7500"
	got := reloadOnce(running, "f.yaml", func() (config.Config, error) { return next, nil }, log)
	if !slices.Equal(got, []string{"approval", "api"}) || !strings.Contains(logs.String(), "sections=approval,api") {
		t.Errorf("changed sections %v, log:\n%s", got, logs.String())
	}
	logs.Reset()
	bad := running
	bad.Hosts = nil
	if got := reloadOnce(running, "f.yaml", func() (config.Config, error) { return bad, nil }, log); got != nil || !strings.Contains(logs.String(), "field=hosts") {
		t.Errorf("invalid file: %v, log:\n%s", got, logs.String())
	}
	logs.Reset()
	if got := reloadOnce(running, "f.yaml", func() (config.Config, error) { return config.Config{}, errors.New("parse: boom") }, log); got != nil || !strings.Contains(logs.String(), "parse: boom") {
		t.Errorf("unreadable file: %v, log:\n%s", got, logs.String())
	}
}
