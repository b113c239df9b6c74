package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/preflight"
)

// errPreflightFailed is returned when at least one preflight check failed (they are printed).
var errPreflightFailed = errors.New("preflight: some checks failed")

// newPreflightCmd checks the configured cluster from the management node.
func newPreflightCmd() *cobra.Command {
	var cfgFlag, output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check the configured cluster from this node before trusting it",
		Long: `Check the cluster that the configuration describes, from this (the management) node, without
changing anything. One line per check, with ✓ or ✗, what was found, and for a failure a hint:

  libvirt      each host's libvirt URI connects (tcp, tls or ssh); libvirt and QEMU versions
  migration    each pair of hosts: both answer, the peer URI's host resolves, its port answers
  leases       lease_dir is here and every running disk's lockd lease is visible in it
  bmc          each BMC answers, accepts the credentials, and reads the power state (read only:
               Redfish, or the IPMI / fence agent 'status' action; nothing is powered off); a
               Redfish BMC's certificate is checked as the daemon does (ca_file, pinned_sha256)
  fence        each rung of a host's fence ladder (hosts[].fence) that is not its BMC entry,
               read the same way
  secret-file  credentials, tokens and the webhook secret exist with mode 0600 or stricter
  capacity     for each host, whether its protected VMs would find room on the others

-o json prints {"ok": bool, "checks": [{"name", "host", "ok", "detail", "hint"}]}. The exit
status is 1 when any check fails. The configuration is --config, else $LIFEBOAT_CONFIG, else
` + config.DefaultPath + `; 'lifeboat config check' validates the file itself.`,
		Example: "  lifeboat preflight --config /tmp/lab/lifeboat.yaml\n  lifeboat preflight -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			path, err := requireConfigPath(cfgFlag)
			if err != nil {
				return err
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			rep := preflight.Run(cmd.Context(), cfg, preflight.RealEnv(timeout))
			w := cmd.OutOrStdout()
			if output != "table" {
				if err := printData(w, output, rep); err != nil {
					return err
				}
			} else {
				tw := newTable(w)
				fmt.Fprintln(tw, "\tCHECK\tHOST\tDETAIL\tHINT")
				for _, c := range rep.Checks {
					mark := "✓"
					if !c.OK {
						mark = "✗"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mark, c.Name, dash(c.Host), c.Detail, dash(c.Hint))
				}
				tw.Flush()
			}
			if !rep.OK {
				return errPreflightFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFlag, "config", "", "daemon configuration file (default $LIFEBOAT_CONFIG, else "+config.DefaultPath+")")
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "bound on each network check")
	return cmd
}
