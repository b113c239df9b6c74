package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/secret"
)

// newTokenCmd groups the commands that manage the API's users file.
func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the API's named tokens (api.users_file)",
		Long: `Manage the API's users file (api.users_file): named tokens, each with a role.

  viewer    reads: status, hosts, VMs, events, plans, explanations, metrics
  operator  also switchover, drain and undrain, degrade and repair, cancel migrations,
            approve and reject plans
  admin     also confirm-off, disarm and arm

The file stores only the SHA-256 of each token, one NAME ROLE sha256:HEX line per user, and must
be readable by its owner only. The daemon reads it at start and again on SIGHUP
('systemctl reload lifeboat'): reload it after a change.`,
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenRevokeCmd())
	return cmd
}

// usersFileFlags say which users file a token command edits.
type usersFileFlags struct {
	file   string
	config string
}

// add declares --users-file and --config.
func (f *usersFileFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "users-file", "", "the users file (default: api.users_file of --config)")
	cmd.Flags().StringVar(&f.config, "config", "", "daemon configuration file to take api.users_file from (default $"+envConfig+", else "+config.DefaultPath+" if it exists)")
}

// path returns the users file to edit.
func (f *usersFileFlags) path() (string, error) {
	if f.file != "" {
		return f.file, nil
	}
	cfgPath, src := configPath(f.config)
	if cfgPath == "" {
		return "", errors.New("which users file? give --users-file, or --config with api.users_file")
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	if c.API.UsersFile == "" {
		return "", fmt.Errorf("%s %s has no api.users_file: set it, or give --users-file", src, cfgPath)
	}
	return c.API.UsersFile, nil
}

// newTokenCreateCmd adds a named token to the users file and prints it once.
func newTokenCreateCmd() *cobra.Command {
	var name, role string
	var uf usersFileFlags
	cmd := &cobra.Command{
		Use:   "create --name NAME --role viewer|operator|admin",
		Short: "Make a new token for a person or a tool, print it once, and store its hash",
		Long: `Make a new token for a person or a tool: 32 random bytes, printed once on standard
output. The users file keeps only its SHA-256, so a lost token cannot be shown again: revoke it
and create another. The file is created (mode 600) when it does not exist. Restart the daemon
to make the token work.`,
		Example: "  lifeboat token create --name alice --role operator --users-file /etc/lifeboat/users > alice.token",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := api.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			path, err := uf.path()
			if err != nil {
				return err
			}
			tok, u, err := api.NewToken(name, r)
			if err != nil {
				return fmt.Errorf("--name: %w", err)
			}
			if err := editUsers(path, func(lines []string, us *api.Users) ([]string, error) {
				if us.Has(name) {
					return nil, fmt.Errorf("%s already has a user named %s: revoke it first ('lifeboat token revoke --name %s')", path, name, name)
				}
				return append(lines, u.Line()), nil
			}); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "token for %s (%s) stored in %s as its hash; it is shown only now. Reload the daemon (systemctl reload lifeboat) to use it.\n", name, r, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "who the token is for: letters, digits and . _ @ - (required)")
	cmd.Flags().StringVar(&role, "role", "", "viewer, operator or admin (required)")
	uf.add(cmd)
	return cmd
}

// newTokenRevokeCmd removes a named token from the users file.
func newTokenRevokeCmd() *cobra.Command {
	var name string
	var uf usersFileFlags
	cmd := &cobra.Command{
		Use:     "revoke --name NAME",
		Short:   "Remove a named token from the users file",
		Long:    `Remove a named token from the users file. Restart the daemon to make it stop working.`,
		Example: "  lifeboat token revoke --name alice --users-file /etc/lifeboat/users",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := uf.path()
			if err != nil {
				return err
			}
			if err := editUsers(path, func(lines []string, us *api.Users) ([]string, error) {
				if !us.Has(name) {
					return nil, fmt.Errorf("%s has no user named %q", path, api.Printable(name))
				}
				out := lines[:0]
				for _, l := range lines {
					if f := strings.Fields(l); len(f) == 0 || f[0] != name {
						out = append(out, l)
					}
				}
				return out, nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s in %s; reload the daemon (systemctl reload lifeboat) to apply\n", name, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "whose token to remove (required)")
	uf.add(cmd)
	return cmd
}

// editUsers reads the users file at path (a missing file is empty; an existing one must be
// readable by its owner only), lets edit change its lines, and writes it back atomically with
// mode 600.
func editUsers(path string, edit func(lines []string, us *api.Users) ([]string, error)) error {
	var body []byte
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("users file: %w", err)
	default:
		if err := secret.CheckMode(path, st.Mode()); err != nil {
			return fmt.Errorf("users file: %w", err)
		}
		if body, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("users file: %w", err)
		}
	}
	us, err := api.ParseUsers(body)
	if err != nil {
		return fmt.Errorf("users file %s: %w", path, err)
	}
	var lines []string
	if s := strings.TrimRight(string(body), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	} else {
		lines = []string{"# lifeboat users: NAME ROLE sha256:HEX of the token ('lifeboat token create')"}
	}
	if lines, err = edit(lines, us); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if _, err := tmp.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("users file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	return nil
}
