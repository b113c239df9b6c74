// Package redfish reads a host's power state and hardware health from its BMC over Redfish
// (through gofish), for the failure detector and the health signals.
package redfish

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/lifeboat-ha/lifeboat/secret"
)

// Credentials are a BMC's user name and password. They come from a file, never from a command
// line or a log.
type Credentials struct {
	Username string
	Password string
}

// String hides the password.
func (c Credentials) String() string { return "Credentials{" + c.Username + ", ***}" }

// ReadCredentials reads a credentials file of username= and password= lines (the key=value form
// fence agents take on their standard input). Blank lines and # comments are ignored. The file
// must be readable by its owner only (secret.ReadFile).
func ReadCredentials(path string) (Credentials, error) {
	b, err := secret.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("redfish: credentials: %w", err)
	}
	return parseCredentials(path, b)
}

// parseCredentials parses a credentials file's contents; path names it in errors, which never
// show a value.
func parseCredentials(path string, b []byte) (Credentials, error) {
	var c Credentials
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Credentials{}, fmt.Errorf("redfish: credentials %s line %d: want key=value", path, n)
		}
		switch strings.TrimSpace(k) {
		case "username", "login":
			c.Username = strings.TrimSpace(v)
		case "password", "passwd":
			c.Password = strings.TrimSpace(v)
		}
	}
	if c.Username == "" || c.Password == "" {
		return Credentials{}, fmt.Errorf("redfish: credentials %s: %w", path, errors.New("needs both username= and password="))
	}
	return c, nil
}
