package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lifeboat-ha/lifeboat/config"
)

// reloadFunc reads the configuration again as the daemon read it at start (file, then flags).
type reloadFunc func() (config.Config, error)

// watchReload handles SIGHUP until ctx ends: it reads the configuration again, validates it and
// logs what changed. An invalid file is reported field by field and changes nothing. The running
// daemon keeps the configuration it started with: every changed section is logged as needing a
// restart ('systemctl restart lifeboat'). It returns when ctx ends.
func watchReload(ctx context.Context, running config.Config, path string, read reloadFunc, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reloadOnce(running, path, read, log)
		}
	}
}

// reloadOnce is one SIGHUP: read, validate, and say what would change.
func reloadOnce(running config.Config, path string, read reloadFunc, log *slog.Logger) []string {
	next, err := read()
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded", "config", path, "err", err)
		return nil
	}
	if err := next.Validate(); err != nil {
		for _, fe := range config.FieldErrors(err) {
			log.Error("SIGHUP: configuration not reloaded: invalid field", "config", path, "field", fe.Field, "problem", fe.Msg)
		}
		return nil
	}
	changed := config.Diff(running, next)
	if len(changed) == 0 {
		log.Info("SIGHUP: configuration unchanged", "config", path)
		return nil
	}
	log.Warn("SIGHUP: configuration changed; restart the daemon to apply it (the running daemon keeps the configuration it started with)",
		"config", path, "sections", strings.Join(changed, ","))
	return changed
}
