package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/lifeboat-ha/lifeboat/config"
)

// defaultConfigPath is where the daemon and the CLI look for the configuration when neither
// --config nor $LIFEBOAT_CONFIG names one. Tests point it elsewhere, to stay hermetic.
var defaultConfigPath = config.DefaultPath

// configPath picks the configuration file: the flag, else $LIFEBOAT_CONFIG, else the default
// path when it exists. It also returns where the choice came from, for error messages; an empty
// path means none was given and the default does not exist.
func configPath(flag string) (path, source string) {
	if flag != "" {
		return flag, "--config"
	}
	if env := os.Getenv(envConfig); env != "" {
		return env, "$" + envConfig
	}
	if _, err := os.Stat(defaultConfigPath); err == nil {
		return defaultConfigPath, "the default configuration"
	}
	return "", ""
}

// requireConfigPath is configPath for commands that cannot run without a configuration.
func requireConfigPath(flag string) (string, error) {
	p, _ := configPath(flag)
	if p == "" {
		return "", fmt.Errorf("no configuration: give --config FILE or $%s, or install one at %s: %w", envConfig, defaultConfigPath, errNoConfig)
	}
	return p, nil
}

// errNoConfig means no configuration file was given and none is installed.
var errNoConfig = errors.New("no configuration file")
