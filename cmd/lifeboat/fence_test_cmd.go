package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
)

// errFenceTestFailed is returned when a rung of a host's fence ladder cannot read the power.
var errFenceTestFailed = errors.New("fence test: a rung cannot read the power state")

// newFenceCmd groups the fencing commands.
func newFenceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fence",
		Short: "Work with the hosts' fence ladders",
	}
	cmd.AddCommand(newFenceTestCmd())
	return cmd
}

// newFenceTestCmd reads the power state through every rung of a host's ladder.
func newFenceTestCmd() *cobra.Command {
	var cfgFlag string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test HOST",
		Short: "Read a host's power state through every rung of its fence ladder (never powers off)",
		Long: `Read a host's power state through every rung of its fence ladder, in order: hosts[].fence, or
its bmc entry as the one rung. Each rung only reads (Redfish PowerState, 'ipmitool chassis power
status', a fence agent's 'status' action): nothing is ever powered off. The exit status is 1 when
any rung cannot read the power. A redfish rung checks the BMC's certificate as the daemon does
(system CAs, ca_file or pinned_sha256). The configuration is --config, else $LIFEBOAT_CONFIG, else
` + config.DefaultPath + `.`,
		Example: "  lifeboat fence test hv1 --config /etc/lifeboat/lifeboat.yaml",
		Args:    oneArg("HOST", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := requireConfigPath(cfgFlag)
			if err != nil {
				return err
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			var host *config.Host
			for i := range cfg.Hosts {
				if cfg.Hosts[i].Name == args[0] {
					host = &cfg.Hosts[i]
				}
			}
			if host == nil {
				return fmt.Errorf("unknown host %q in %s", args[0], path)
			}
			l, err := fence.FromHost(*host, timeout)
			if err != nil {
				return err
			}
			if len(l.Methods) == 0 {
				return fmt.Errorf("%s has no fence method: give it hosts[].fence or a bmc entry: %w", host.Name, errFenceTestFailed)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "RUNG\tMETHOD\tPOWER\tTOOK\tERROR")
			failed := 0
			for i, m := range l.Methods {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				start := time.Now()
				off, err := m.Status(ctx)
				cancel()
				power, msg := "on", "-"
				if off {
					power = "off"
				}
				if err != nil {
					power, msg = "?", err.Error()
					failed++
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i, m.Name(), power, time.Since(start).Round(time.Millisecond), msg)
			}
			tw.Flush()
			if failed > 0 {
				return fmt.Errorf("%s: %d of %d rungs: %w", host.Name, failed, len(l.Methods), errFenceTestFailed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFlag, "config", "", "daemon configuration file (default $LIFEBOAT_CONFIG, else "+config.DefaultPath+")")
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Second, "bound on each rung's status read")
	return cmd
}
