package api

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewTokenAndUsersFile(t *testing.T) {
	tok, u, err := NewToken("alice", RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != len(TokenPrefix)+43 || checkToken(tok) != nil {
		t.Fatalf("token %q: want lbt_ and 43 base64url characters", tok)
	}
	sum := sha256.Sum256([]byte(tok))
	line := u.Line()
	if line != "alice operator sha256:"+hex.EncodeToString(sum[:]) || strings.Contains(line, tok) {
		t.Fatalf("line %q: want only the token's hash", line)
	}
	tok2, _, _ := NewToken("alice", RoleOperator)
	if tok2 == tok {
		t.Fatal("two tokens are the same")
	}
	us, err := ParseUsers([]byte("# users\n\n" + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := us.match(tok); !ok || got.Name != "alice" || got.Role != RoleOperator {
		t.Fatalf("match: %+v %v", got, ok)
	}
	if _, ok := us.match(tok2); ok {
		t.Fatal("another token matched")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if us, err := ReadUsersFile(path); err != nil || !us.Has("alice") {
		t.Fatalf("ReadUsersFile: %v", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUsersFile(path); err == nil || !strings.Contains(err.Error(), "mode 0640") || !strings.Contains(err.Error(), path) {
		t.Fatalf("a group-readable users file: %v", err)
	}
}

func TestParseUsersNamesTheLine(t *testing.T) {
	good := "alice operator sha256:" + strings.Repeat("ab", 32)
	for body, want := range map[string]string{
		"alice operator": "line 1: want NAME ROLE sha256:HEX, got 2 fields",
		"alice root sha256:" + strings.Repeat("ab", 32):         `line 1 (alice): role "root"`,
		"alice admin md5:abcd":                                  "line 1 (alice): the token hash is not sha256:",
		"alice admin sha256:abcd":                               "line 1 (alice): the token hash is not sha256:",
		"-x admin sha256:" + strings.Repeat("ab", 32):           `line 1: name "-x"`,
		"token admin sha256:" + strings.Repeat("ab", 32):        `name "token" is lifeboat's own`,
		good + "\n\n" + good:                                    "line 3: alice is already on line 1",
		"al\x1bice admin sha256:" + strings.Repeat("ab", 32):    `name "al\x1bice"`,
		"alice admin sha256:" + strings.Repeat("zz", 32) + "\n": "line 1 (alice): the token hash",
	} {
		_, err := ParseUsers([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
		if err != nil && strings.Contains(err.Error(), strings.Repeat("ab", 32)) {
			t.Errorf("%q: the error shows a hash: %v", body, err)
		}
	}
}
