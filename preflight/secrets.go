package preflight

import (
	"fmt"
	"syscall"

	"github.com/lifeboat-ha/lifeboat/config"
)

// secretFiles lists the configuration's secret files with the field that names each.
func secretFiles(cfg config.Config) [][2]string {
	var out [][2]string
	for i, h := range cfg.Hosts {
		seen := map[string]bool{}
		if h.BMC.CredentialsFile != "" {
			out = append(out, [2]string{fmt.Sprintf("hosts[%d].bmc.credentials_file", i), h.BMC.CredentialsFile})
			seen[h.BMC.CredentialsFile] = true
		}
		for j, rung := range h.Fence {
			if rung.CredentialsFile != "" && !seen[rung.CredentialsFile] {
				out = append(out, [2]string{fmt.Sprintf("hosts[%d].fence[%d].credentials_file", i, j), rung.CredentialsFile})
				seen[rung.CredentialsFile] = true
			}
		}
	}
	for _, f := range [][2]string{
		{"api.token_file", cfg.API.TokenFile},
		{"api.users_file", cfg.API.UsersFile},
		{"alerts.alertmanager.token_file", cfg.Alerts.Alertmanager.TokenFile},
		{"notify.secret_file", cfg.Notify.SecretFile},
	} {
		if f[1] != "" {
			out = append(out, f)
		}
	}
	return out
}

// checkSecrets: each secret file exists, is a regular file, and neither its group nor others
// may read or write it.
func checkSecrets(env Env, cfg config.Config) []Check {
	var out []Check
	for _, f := range secretFiles(cfg) {
		c := Check{Name: CheckSecretFile, Host: f[0]}
		fi, err := env.Stat(f[1])
		switch {
		case err != nil:
			c.Detail, c.Hint = fmt.Sprintf("%s: %v", f[1], err), "create it (mode 0600, owned by the daemon's user)"
		case !fi.Mode().IsRegular():
			c.Detail, c.Hint = fmt.Sprintf("%s: not a regular file (%s)", f[1], fi.Mode()), "point "+f[0]+" at a file"
		case fi.Mode().Perm()&0o077 != 0:
			c.Detail, c.Hint = fmt.Sprintf("%s: mode %04o lets others read it", f[1], fi.Mode().Perm()), "chmod 600 "+f[1]
		default:
			c.OK = true
			c.Detail = fmt.Sprintf("%s: mode %04o%s", f[1], fi.Mode().Perm(), owner(fi.Sys()))
		}
		out = append(out, c)
	}
	return out
}

// owner names the file's owner uid, when the platform says.
func owner(sys any) string {
	if st, ok := sys.(*syscall.Stat_t); ok {
		return fmt.Sprintf(", owner uid %d", st.Uid)
	}
	return ""
}
