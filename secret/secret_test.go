package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode passes through the umask
		t.Fatal(err)
	}
	return p
}

func TestReadFileRefusesExposedFiles(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o666} {
		p := write(t, "s3cret\n", mode)
		_, err := ReadFile(p)
		if !errors.Is(err, ErrExposed) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "mode "+fmtMode(mode)) {
			t.Errorf("mode %04o: %v, want ErrExposed naming the file and its mode", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		got, err := ReadString(write(t, "  s3cret\n", mode))
		if err != nil || got != "s3cret" {
			t.Errorf("mode %04o: %q %v", mode, got, err)
		}
	}
}

func fmtMode(m os.FileMode) string {
	const digits = "01234567"
	p := m.Perm()
	return string([]byte{'0', digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestReadFileRefusesEmptyAndOdd(t *testing.T) {
	for _, body := range []string{"", " ", "\n\t \n"} {
		if _, err := ReadFile(write(t, body, 0o600)); !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: %v, want ErrEmpty", body, err)
		}
	}
	dir := t.TempDir()
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
