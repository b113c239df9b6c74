// Package secret reads lifeboat's secret files (API tokens, the users file, BMC credentials,
// the webhook key, the Alertmanager token). A secret file must be a regular file that only its
// owner may read or write, and must hold something besides white space.
package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrExposed: the file is readable or writable by its group or by others.
	ErrExposed = errors.New("secret file is readable or writable by group or others")
	// ErrEmpty: the file holds nothing but white space.
	ErrEmpty = errors.New("secret file is empty")
)

// maxSize bounds a secret file (a users file with thousands of entries fits).
const maxSize = 1 << 20

// ReadFile reads the secret file at path. It refuses, naming the file and its mode, a file that
// its group or others may read or write (chmod 600 fixes that), a file that is not a regular
// file, one over 1 MiB, and one that holds only white space.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so that what is checked is what is read.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if err := CheckMode(path, st.Mode()); err != nil {
		return nil, err
	}
	if st.Size() > maxSize {
		return nil, fmt.Errorf("secret file %s is %d bytes long, more than %d", path, st.Size(), maxSize)
	}
	b := make([]byte, st.Size())
	n, err := f.Read(b)
	if err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	b = b[:n]
	if strings.TrimSpace(string(b)) == "" {
		return nil, fmt.Errorf("%w: %s holds nothing but white space", ErrEmpty, path)
	}
	return b, nil
}

// ReadString reads a one-line secret (a token, a key): ReadFile, trimmed of surrounding white
// space.
func ReadString(path string) (string, error) {
	b, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// CheckMode returns an error naming path and mode unless mode is a regular file's that only its
// owner may read or write.
func CheckMode(path string, mode fs.FileMode) error {
	if !mode.IsRegular() {
		return fmt.Errorf("secret file %s is not a regular file (mode %s)", path, mode)
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; make it readable by its owner only: chmod 600 %s", ErrExposed, path, perm, path)
	}
	return nil
}
