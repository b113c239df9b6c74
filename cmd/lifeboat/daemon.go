package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/daemon"
)

// newDaemonCmd runs the controller: watch every host, decide verdicts, journal, serve the API.
func newDaemonCmd() *cobra.Command {
	var cfgPath, listen, storePath, logLevel, logFormat, name string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the lifeboat daemon: watch every host and serve the API",
		Long: `Run the lifeboat daemon. It watches every host in the configuration through libvirt
(probes, events, guests paused on I/O errors, memory), its BMC (power state and health over
Redfish) and the shared disk-lease lockspace, gives each host a verdict with a reason, and acts:
it evacuates degraded hosts by live migration, fences failed hosts and restarts their VMs, and
brings VMs home once their host is healthy again (under the approval mode, each as a plan that
waits for 'lifeboat approve'). It records every change in its store's journal, and serves the
HTTP API (and /metrics, /healthz, /readyz) that the other commands use, plus an Alertmanager
webhook receiver when alerts.alertmanager.token_file is set, and a receiver of events that BMCs
push (POST /v1/bmc-events/HOST, authenticated by the subscription's secret Context, not a token)
when api.bmc_event_url is set.

A Redfish BMC's events make the daemon read the BMC at once (hosts[].bmc.events): auto (the
default) holds a push subscription when api.bmc_event_url is set and the BMC takes one (no
connection held: the choice for thousands of hosts), else follows the BMC's event stream (SSE);
sse and push insist on one way; off only polls.

Several daemons can watch one cluster with store.backend: etcd: each campaigns under its --name,
the elected leader acts, and the others follow (they watch, so that a takeover is warm, serve
read-only calls and answer calls that change something with 307 to the leader). A leader that
loses its etcd session stops acting at once. With the embedded store (bbolt) the daemon is
"single": it acts only while it holds the controller lock in lease_dir, so a second single daemon
pointed at the same cluster waits and says who holds it. 'lifeboat status' shows the role.

The API serves HTTPS with api.tls (cert_file, key_file; client_ca_file adds client certificates)
and authenticates with api.users_file (named tokens with roles: 'lifeboat token create'),
api.token_file (an admin token) or client certificates. An api.listen that is not a loopback
address is refused unless it has both TLS and a credential. Secret files (tokens, users, the TLS
key, BMC credentials, the webhook key) must be readable by their owner only. 'lifeboat disarm'
stops all automatic action until 'lifeboat arm', across restarts.

A Redfish BMC's certificate must verify against the system's CAs, bmc.ca_file, or match
bmc.pinned_sha256 (also in each redfish rung of hosts[].fence); insecure: true (any certificate)
and an http:// endpoint with allow_http: true are logged as warnings at every start. A firing
Alertmanager alert stops counting when no notification of it came for
alerts.alertmanager.expire_after (12h).

Settings are layered: defaults, then the YAML file, then these flags; then they are validated and
every error names the field at fault ('lifeboat config check' does the same without starting).
The file is --config, else $LIFEBOAT_CONFIG, else ` + config.DefaultPath + ` (where the package
installs it). 'lifeboat lab up' writes a file that works as it is.

SIGHUP ('systemctl reload lifeboat') reads the file again and validates it: an invalid file is
logged field by field and changes nothing. The sections read for every decision (recovery,
placement, approval, failback, health) apply at once and are journaled (config_reloaded); every
other changed setting (hosts, timings, store, api, migration, notify, alerts,
recovery.fence_timeout, recovery.partition_policy) is logged as needing a restart and keeps its
running value until then. SIGHUP also reads api.users_file again: revoked tokens stop working
and new ones work; an unreadable users file changes nothing.`,
		Example: "  lifeboat daemon --config /tmp/lab/lifeboat.yaml\n  lifeboat daemon          # reads " + config.DefaultPath,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfgPath, err := requireConfigPath(cfgPath)
			if err != nil {
				return err
			}
			read := func() (config.Config, error) {
				cfg, err := config.Read(cfgPath)
				if err != nil {
					return config.Config{}, err
				}
				if listen != "" {
					cfg.API.Listen = listen
				}
				if storePath != "" {
					cfg.Store.Path = storePath
				}
				return cfg, nil
			}
			cfg, err := read()
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("config %s: %w", cfgPath, err)
			}
			log, err := newLogger(cmd, logLevel, logFormat)
			if err != nil {
				return err
			}
			return runDaemon(cmd.Context(), cfg, name, log, func(d *daemon.Daemon, users *usersFile) {
				go watchReload(cmd.Context(), d, cfgPath, read, users, log)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "daemon configuration file (YAML) (default $LIFEBOAT_CONFIG, else "+config.DefaultPath+")")
	f.StringVar(&listen, "listen", "", "API listen address HOST:PORT (overrides api.listen)")
	f.StringVar(&storePath, "store", "", "embedded store file (overrides store.path)")
	f.StringVar(&name, "name", "", "this daemon's name among the cluster's daemons (default: the hostname)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

// newLogger makes the daemon's structured logger.
func newLogger(cmd *cobra.Command, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// runDaemon runs the daemon and its API server until ctx ends.
func runDaemon(ctx context.Context, cfg config.Config, name string, log *slog.Logger, started func(*daemon.Daemon, *usersFile)) error {
	daemon.Version = version
	opts, tlsCfg, err := apiSecurity(cfg.API, log)
	if err != nil {
		return err
	}
	warnBMCTrust(cfg, log)
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, Name: name})
	if err != nil {
		return err
	}
	if started != nil {
		var users *usersFile
		if opts.Users != nil {
			users = &usersFile{path: cfg.API.UsersFile, users: opts.Users}
		}
		started(d, users)
	}
	opts.Gatherer, opts.Logger = d.Registry(), log
	if opts.Alerts, err = d.AlertOptions(); err != nil {
		return err
	}
	opts.BMCEvents = d.BMCEventReceiver()
	h, err := api.NewServer(d, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", cfg.API.Listen, err)
	}
	srv := api.NewHTTPServer(h, log)
	scheme := "http"
	if tlsCfg != nil {
		srv.TLSConfig, scheme = tlsCfg, "https"
	}
	go func() {
		l := api.LimitListener(ln, api.MaxConnections)
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(l, "", "")
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server failed", "err", err)
		}
	}()
	log.Info("lifeboat daemon serving", "api", scheme+"://"+ln.Addr().String(), "hosts", len(cfg.Hosts), "store", cfg.Store.Backend)
	runErr := d.Run(ctx)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return runErr
}

// apiSecurity reads the API's credentials and TLS setup; errors name the field at fault.
func apiSecurity(a config.API, log *slog.Logger) (api.ServerOptions, *tls.Config, error) {
	var opts api.ServerOptions
	if a.TokenFile != "" {
		t, err := api.ReadTokenFile(a.TokenFile)
		if err != nil {
			return opts, nil, fmt.Errorf("api.token_file: %w", err)
		}
		opts.Token = t
	}
	if a.UsersFile != "" {
		us, err := api.ReadUsersFile(a.UsersFile)
		if err != nil {
			return opts, nil, fmt.Errorf("api.users_file: %w", err)
		}
		opts.Users = us
	}
	opts.MetricsAuth = a.MetricsAuth
	var tlsCfg *tls.Config
	if a.TLS.Enabled() {
		c, err := api.ServerTLS(a.TLS.CertFile, a.TLS.KeyFile, a.TLS.ClientCAFile)
		if err != nil {
			return opts, nil, fmt.Errorf("api.tls: %w", err)
		}
		tlsCfg, opts.ClientCerts = c, a.TLS.ClientCAFile != ""
	}
	if opts.Token == "" && opts.Users == nil && !opts.ClientCerts {
		log.Warn("the API has no authentication: every local user may fence, drain and disarm; set api.users_file")
	}
	return opts, tlsCfg, nil
}

// warnBMCTrust warns, at every start, about each BMC whose answers lifeboat cannot trust
// (insecure, or plain http): a spoofed BMC that says "Off" fails its host and verifies its fence.
func warnBMCTrust(cfg config.Config, log *slog.Logger) {
	for _, w := range cfg.BMCTrustWarnings() {
		log.Warn(w.Field+": "+w.Message, "host", w.Host, "bmc", w.Endpoint)
	}
}
