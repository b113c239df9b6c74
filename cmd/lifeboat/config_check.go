package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// newConfigCmd groups the configuration commands.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the daemon's configuration file",
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

// errConfigInvalid is returned by `config check` when the file has problems (they are printed).
var errConfigInvalid = errors.New("invalid configuration")

// newConfigCheckCmd validates a configuration without starting anything.
func newConfigCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a configuration file without starting the daemon",
		Long: `Validate a configuration file as the daemon would at start, without starting it: the YAML
(unknown fields are errors), then every setting, then the files the daemon reads at start (BMC
and fence credentials, API and Alertmanager tokens, the webhook secret). Each problem is printed
on its own line, naming the field at fault (e.g. hosts[1].bmc.credentials_file), and the command
exits with status 1 if there is any. It contacts no host or BMC: 'lifeboat preflight' does that.

FILE defaults to --config's usual search: $LIFEBOAT_CONFIG, else ` + config.DefaultPath + `.`,
		Example: "  lifeboat config check /etc/lifeboat/lifeboat.yaml\n  lifeboat config check",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flag := ""
			if len(args) == 1 {
				flag = args[0]
			}
			path, err := requireConfigPath(flag)
			if err != nil {
				return err
			}
			cfg, err := config.Read(path)
			if err != nil {
				return err // not YAML, or an unknown field: nothing more can be checked
			}
			problems := config.FieldErrors(cfg.Validate())
			if len(problems) == 0 {
				problems = checkFiles(cfg)
			}
			w := cmd.OutOrStdout()
			if len(problems) == 0 {
				fmt.Fprintf(w, "%s: ok (%d hosts)\n", path, len(cfg.Hosts))
				return nil
			}
			for _, p := range problems {
				fmt.Fprintf(w, "%s: %s\n", path, p)
			}
			return fmt.Errorf("%s: %d problem(s): %w", path, len(problems), errConfigInvalid)
		},
	}
}

// checkFiles reads the files the daemon reads at start, with the same code, and returns a field
// error for each one it cannot use.
func checkFiles(cfg config.Config) []*config.FieldError {
	var out []*config.FieldError
	bad := func(field string, err error) {
		out = append(out, &config.FieldError{Field: field, Msg: err.Error()})
	}
	for i, h := range cfg.Hosts {
		entries := map[string]config.BMC{fmt.Sprintf("hosts[%d].bmc", i): h.BMC}
		for j, f := range h.Fence {
			entries[fmt.Sprintf("hosts[%d].fence[%d]", i, j)] = f
		}
		for _, p := range slices.Sorted(maps.Keys(entries)) {
			b := entries[p]
			if b.CredentialsFile != "" {
				if _, err := redfish.ReadCredentials(b.CredentialsFile); err != nil {
					bad(p+".credentials_file", err)
					continue
				}
			}
			if _, err := fence.FromConfig(h.Name, b, cfg.Recovery.FenceTimeout.D()); err != nil {
				bad(p, err)
			}
		}
	}
	if f := cfg.API.TokenFile; f != "" {
		if _, err := api.ReadTokenFile(f); err != nil {
			bad("api.token_file", err)
		}
	}
	if f := cfg.Alerts.Alertmanager.TokenFile; f != "" {
		if _, err := api.ReadTokenFile(f); err != nil {
			bad("alerts.alertmanager.token_file", err)
		}
	}
	if f := cfg.Notify.SecretFile; f != "" {
		if _, err := os.ReadFile(f); err != nil {
			bad("notify.secret_file", err)
		}
	}
	return out
}
