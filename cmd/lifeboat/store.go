package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/store"
)

// newStoreCmd groups the commands that work on a store directly (without a daemon).
func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Work on a lifeboat store directly (stop the daemons first)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newStoreMigrateCmd())
	return cmd
}

// newStoreMigrateCmd copies an embedded store into etcd.
func newStoreMigrateCmd() *cobra.Command {
	var from, toConfig string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Copy an embedded (bbolt) store into the etcd store a configuration names",
		Long: `Copy everything an embedded store file holds into etcd: VM and host records, plans
and the plan counter, fence and restart records, the freeze, and the journal with its sequence
numbers. The target is store.etcd of the configuration given with --to-config (store.backend
must be etcd); its prefix must hold no lifeboat records yet, so nothing is overwritten.

Stop the daemon that uses the file first: the file is locked while a daemon has it open.`,
		Example: "  lifeboat store migrate --from /var/lib/lifeboat/lifeboat.db --to-config /etc/lifeboat/lifeboat.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || toConfig == "" {
				return errors.New("--from and --to-config are required")
			}
			cfg, err := config.Load(toConfig)
			if err != nil {
				return err
			}
			if cfg.Store.Backend != config.StoreEtcd {
				return fmt.Errorf("config %s: store.backend is %q; migrate copies into etcd, so set store.backend: etcd and store.etcd", toConfig, cfg.Store.Backend)
			}
			src, err := store.Open(from, store.Options{})
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			opts, err := store.EtcdOptionsFromConfig(cfg.Store.Etcd)
			if err != nil {
				return err
			}
			dst, err := store.OpenEtcd(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer dst.Close()
			st, err := store.Migrate(cmd.Context(), src, dst)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %s into %s: %d VMs, %d hosts, %d plans (counter %d), %d fence and %d restart records, %d journal entries (last seq %d)\n",
				from, dst.Location(), st.VMs, st.Hosts, st.Plans, st.PlanCounter, st.Fences, st.Restarts, st.Journal, st.LastSeq)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the embedded store file to copy (FILE.db)")
	f.StringVar(&toConfig, "to-config", "", "a lifeboat configuration with store.backend: etcd; its store.etcd is the target")
	return cmd
}
