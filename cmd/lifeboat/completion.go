package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
)

// completionTimeout bounds how long shell completion waits for the daemon.
const completionTimeout = 2 * time.Second

// completer offers the candidates for one argument or flag value. It asks the daemon the command's
// client flags name, and offers nothing when it cannot reach it.
type completer func(cmd *cobra.Command) []string

// argCompletions are the completions of positional arguments, by command path: one completer per
// argument, in order.
var argCompletions = map[string][]completer{
	"lifeboat drain":            {daemonHosts},
	"lifeboat undrain":          {daemonHosts},
	"lifeboat host degrade":     {daemonHosts},
	"lifeboat host repair":      {daemonHosts},
	"lifeboat host confirm-off": {daemonHosts},
	"lifeboat switchover":       {daemonVMs},
	"lifeboat explain vm":       {daemonVMs},
	"lifeboat cancel":           {daemonActiveMigrations},
	"lifeboat fence test":       {configHosts},
}

// flagCompletions are the completions of flag values, by command path and flag name.
var flagCompletions = map[string]map[string]completer{
	"lifeboat switchover":       {"to": daemonHosts},
	"lifeboat host confirm-off": {"confirm": daemonHosts},
	"lifeboat whatif":           {"fail": daemonHosts},
	"lifeboat lab up":           {"guest": fixed("linux", "bios")},
	"lifeboat lab run":          {"guest": fixed("linux", "bios")},
	"lifeboat lab fault":        {"health": fixed("warning", "critical")},
}

// fixed offers a fixed set of values.
func fixed(values ...string) completer {
	return func(*cobra.Command) []string { return values }
}

// fixedValues is a flag completion function offering a fixed set of values.
func fixedValues(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions attaches the completions above to the commands of the tree under root (those
// that have no completion of their own). Run it once the tree is built.
func addCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		path := c.CommandPath()
		if cs, ok := argCompletions[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if len(args) >= len(cs) {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return cs[len(args)](cmd), cobra.ShellCompDirectiveNoFileComp
			}
		}
		for name, comp := range flagCompletions[path] {
			_ = c.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
				return comp(cmd), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
	walk(root)
}

// completionClient is an API client from the command's --server, --config and --token-file (and
// the environment), or nil when there is none.
func completionClient(cmd *cobra.Command) *api.Client {
	f := &clientFlags{}
	f.server, _ = cmd.Flags().GetString("server")
	f.config, _ = cmd.Flags().GetString("config")
	f.tokenFile, _ = cmd.Flags().GetString("token-file")
	c, err := f.client()
	if err != nil {
		return nil
	}
	return c
}

// daemonHosts offers the daemon's hosts, with their state as description.
func daemonHosts(cmd *cobra.Command) []string {
	c := completionClient(cmd)
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	hosts, err := c.Hosts(ctx)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, h.Name+"\t"+h.State)
	}
	return out
}

// daemonVMs offers the daemon's VMs, with their host and state as description.
func daemonVMs(cmd *cobra.Command) []string {
	c := completionClient(cmd)
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	vms, err := c.VMs(ctx)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(vms))
	for _, v := range vms {
		out = append(out, v.Name+"\t"+strings.TrimSpace(v.State+" on "+dash(v.Host)))
	}
	return out
}

// daemonActiveMigrations offers the migrations that have not ended (those 'cancel' can stop).
func daemonActiveMigrations(cmd *cobra.Command) []string {
	c := completionClient(cmd)
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	ms, err := c.Migrations(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range ms {
		if !m.Done() {
			out = append(out, m.ID+"\t"+m.VM+" "+m.From+" → "+m.To+" "+m.State)
		}
	}
	return out
}

// configHosts offers the hosts of the configuration file (for commands that read it, not the
// daemon).
func configHosts(cmd *cobra.Command) []string {
	flag, _ := cmd.Flags().GetString("config")
	path, _ := configPath(flag)
	if path == "" {
		return nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range cfg.Hosts {
		out = append(out, h.Name)
	}
	return out
}
