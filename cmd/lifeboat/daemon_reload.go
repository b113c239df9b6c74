package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/daemon"
)

// reloadFunc reads the configuration again as the daemon read it at start (file, then flags).
type reloadFunc func() (config.Config, error)

// reloader is what a SIGHUP changes: the running daemon (daemon.Daemon.Reload).
type reloader interface {
	Reload(ctx context.Context, next config.Config) (applied, restart []string, err error)
}

var _ reloader = (*daemon.Daemon)(nil)

// watchReload handles SIGHUP until ctx ends: it reads the configuration again and hands it to
// the daemon, which takes over the reloadable sections (daemon.Reloadable) and keeps the
// others as they run; those are logged as needing a restart ('systemctl restart lifeboat'). An
// invalid file is reported field by field and changes nothing. It also reads api.users_file
// again into users (nil without one): see reloadUsers.
func watchReload(ctx context.Context, d reloader, path string, read reloadFunc, users *usersFile, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reloadOnce(ctx, d, path, read, log)
			users.reload(log)
		}
	}
}

// reloadOnce is one SIGHUP: read, validate, apply what can change, and say what needs a
// restart. It returns the sections applied and those that need a restart.
func reloadOnce(ctx context.Context, d reloader, path string, read reloadFunc, log *slog.Logger) (applied, restart []string) {
	next, err := read()
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded", "config", path, "err", err)
		return nil, nil
	}
	if err := next.Validate(); err != nil {
		for _, fe := range config.FieldErrors(err) {
			log.Error("SIGHUP: configuration not reloaded: invalid field", "config", path, "field", fe.Field, "problem", fe.Msg)
		}
		return nil, nil
	}
	applied, restart, err = d.Reload(ctx, next)
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded", "config", path, "err", err)
		return nil, nil
	}
	if len(applied) == 0 && len(restart) == 0 {
		log.Info("SIGHUP: configuration unchanged", "config", path)
		return nil, nil
	}
	if len(applied) > 0 {
		log.Info("SIGHUP: configuration reloaded", "config", path, "applied", strings.Join(applied, ","))
	}
	if len(restart) > 0 {
		log.Warn("SIGHUP: these settings changed but need a restart of the daemon; it keeps their running values",
			"config", path, "restart", strings.Join(restart, ","))
	}
	return applied, restart
}

// usersFile is api.users_file as the API serves it: the path read at start and the users the
// API checks tokens against.
type usersFile struct {
	path  string
	users *api.Users
}

// reload reads the users file again (SIGHUP) and hands its entries to the API: a token revoked
// with 'lifeboat token revoke' stops working, one made with 'lifeboat token create' works,
// without a restart. A file that cannot be read or parsed changes nothing, and the error names
// the line. A nil usersFile (no api.users_file) does nothing.
func (f *usersFile) reload(log *slog.Logger) {
	if f == nil {
		return
	}
	next, err := api.ReadUsersFile(f.path)
	if err != nil {
		log.Error("SIGHUP: users file not reloaded: the API keeps the users it had", "users_file", f.path, "err", err)
		return
	}
	f.users.Replace(next)
	log.Info("SIGHUP: users file reloaded", "users_file", f.path, "users", next.Len())
}
