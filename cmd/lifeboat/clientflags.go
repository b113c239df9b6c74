package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
)

// Environment variables that tell the CLI where the daemon is and how to authenticate.
const (
	envServer = "LIFEBOAT_SERVER"
	envConfig = "LIFEBOAT_CONFIG"
	envToken  = "LIFEBOAT_TOKEN"
	envCAFile = "LIFEBOAT_CA_FILE"
	envCert   = "LIFEBOAT_CERT_FILE"
	envKey    = "LIFEBOAT_KEY_FILE"
)

// clientFlags say how a command finds the daemon's API and authenticates to it.
type clientFlags struct {
	server    string
	config    string
	tokenFile string
	caFile    string
	certFile  string
	keyFile   string
}

// addClientFlags declares --server, --config and --token-file as persistent flags of cmd, so
// that its subcommands have them too.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "URL of the daemon's API (default $"+envServer+", else http:// and api.listen of --config, else "+api.DefaultServer+")")
	pf.StringVar(&f.config, "config", "", "daemon configuration file to take api.listen and api.token_file from (default $"+envConfig+", else "+config.DefaultPath+" if it exists)")
	pf.StringVar(&f.tokenFile, "token-file", "", "file holding the API's bearer token, readable by you only (default: the token in $"+envToken+", else the config's api.token_file)")
	pf.StringVar(&f.caFile, "ca-file", "", "PEM CA to trust for the daemon's https certificate instead of the system's (default $"+envCAFile+")")
	pf.StringVar(&f.certFile, "cert-file", "", "PEM client certificate to authenticate with, when the daemon has api.tls.client_ca_file (default $"+envCert+")")
	pf.StringVar(&f.keyFile, "key-file", "", "PEM key of --cert-file, readable by you only (default $"+envKey+")")
	return f
}

// client returns an API client for the daemon the flags, the environment or the configuration
// name. Errors say which of them was at fault.
func (f *clientFlags) client() (*api.Client, error) {
	cfgPath, cfgSrc := configPath(f.config)
	var cfg *config.Config
	loadConfig := func() (*config.Config, error) {
		if cfg == nil {
			c, err := config.Load(cfgPath)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", cfgSrc, err)
			}
			cfg = &c
		}
		return cfg, nil
	}

	server, serverSrc := f.server, "--server"
	if server == "" {
		server, serverSrc = os.Getenv(envServer), envServer
	}
	if server == "" && cfgPath != "" {
		c, err := loadConfig()
		if err != nil {
			return nil, err
		}
		scheme := "http://"
		if c.API.TLS.Enabled() {
			scheme = "https://"
		}
		server, serverSrc = scheme+dialAddress(c.API.Listen), cfgSrc+" "+cfgPath+": api.listen"
	}
	if server == "" {
		server, serverSrc = api.DefaultServer, "the default server"
	}

	var token string
	switch {
	case f.tokenFile != "":
		t, err := api.ReadTokenFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		token = t
	case os.Getenv(envToken) != "":
		token = strings.TrimSpace(os.Getenv(envToken))
	case cfgPath != "":
		c, err := loadConfig()
		if err != nil {
			return nil, err
		}
		if c.API.TokenFile != "" {
			t, err := api.ReadTokenFile(c.API.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("%s %s: api.token_file: %w", cfgSrc, cfgPath, err)
			}
			token = t
		}
	}
	if _, err := api.NewClient(server, token); err != nil {
		return nil, fmt.Errorf("%s: %w", serverSrc, err)
	}
	caFile, caSrc := orEnv(f.caFile, "--ca-file", envCAFile)
	certFile, certSrc := orEnv(f.certFile, "--cert-file", envCert)
	keyFile, keySrc := orEnv(f.keyFile, "--key-file", envKey)
	c, err := api.NewClient(server, token, api.WithCAFile(caFile), api.WithClientCert(certFile, keyFile))
	if err != nil {
		return nil, fmt.Errorf("%s, %s, %s: %w", caSrc, certSrc, keySrc, err)
	}
	return c, nil
}

// orEnv returns a flag's value and its name, else the environment variable's value and name.
func orEnv(flag, flagName, env string) (string, string) {
	if flag != "" {
		return flag, flagName
	}
	return os.Getenv(env), env
}

// dialAddress turns a listen address into one to connect to: an unspecified host (":7400",
// "0.0.0.0:7400", "[::]:7400") becomes loopback.
func dialAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen // config.Load has validated it; let NewClient name the problem
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() == nil:
		host = "::1"
	case ip != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// apiError adds a hint on how to fix an API error a command cannot recover from.
func apiError(err error) error {
	if errors.Is(err, api.ErrUnauthorized) {
		return fmt.Errorf("%w; give the token with --token-file, $%s or --config (or a client certificate with --cert-file)", err, envToken)
	}
	if errors.Is(err, api.ErrForbidden) {
		return fmt.Errorf("%w ('lifeboat whoami' shows your name and role)", err)
	}
	return err
}
