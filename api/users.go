package api

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/lifeboat-ha/lifeboat/secret"
)

// TokenPrefix starts every token that NewToken makes, so that a leaked one is easy to find in a
// log or a repository.
const TokenPrefix = "lbt_"

// hashPrefix starts a token hash in a users file.
const hashPrefix = "sha256:"

// userNameRE is what a user's name may look like: it appears in the journal and in messages.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// User is one entry of a users file: a named token, stored as its SHA-256, with a role.
type User struct {
	Name string
	Role Role
	// Hash is the SHA-256 of the token. Tokens are 32 random bytes, so a plain hash is enough:
	// there is nothing to guess a dictionary word from.
	Hash [sha256.Size]byte
}

// Line is the user as a users file line: NAME ROLE sha256:HEX.
func (u User) Line() string {
	return fmt.Sprintf("%s %s %s%s", u.Name, u.Role, hashPrefix, hex.EncodeToString(u.Hash[:]))
}

// Users are the entries of a users file. They are safe for concurrent use, and Replace swaps
// them for a file read again (SIGHUP) while the API serves.
type Users struct {
	mu   sync.RWMutex
	list []User
}

// Replace takes over the entries of next (a users file read again): a revoked token stops
// working, a new one works, without a restart.
func (us *Users) Replace(next *Users) {
	next.mu.RLock()
	list := slices.Clone(next.list)
	next.mu.RUnlock()
	us.mu.Lock()
	us.list = list
	us.mu.Unlock()
}

// CheckUserName returns an error unless name is 1 to 64 letters, digits and . _ @ -, starting
// with a letter or digit.
func CheckUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("name \"%s\": want 1 to 64 letters, digits and . _ @ -, starting with a letter or digit", Printable(name))
	}
	if name == "token" || name == "anonymous" {
		return fmt.Errorf("name %q is lifeboat's own (the api.token_file credential, or no authentication)", name)
	}
	return nil
}

// ParseUsers parses a users file: one NAME ROLE sha256:HEX line per user; blank lines and lines
// starting with # are ignored. Errors name the line; they never show a hash.
func ParseUsers(b []byte) (*Users, error) {
	us := &Users{}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want NAME ROLE sha256:HEX, got %d fields", n, len(f))
		}
		if err := CheckUserName(f[0]); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if prev, dup := seen[f[0]]; dup {
			return nil, fmt.Errorf("line %d: %s is already on line %d", n, f[0], prev)
		}
		seen[f[0]] = n
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, f[0], err)
		}
		hexSum, ok := strings.CutPrefix(f[2], hashPrefix)
		sum, err := hex.DecodeString(hexSum)
		if !ok || err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("line %d (%s): the token hash is not sha256: and 64 hex digits (make entries with 'lifeboat token create')", n, f[0])
		}
		u := User{Name: f[0], Role: role}
		copy(u.Hash[:], sum)
		us.list = append(us.list, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return us, nil
}

// ReadUsersFile reads and parses a users file, a secret file (see secret.ReadFile) with at
// least one user.
func ReadUsersFile(path string) (*Users, error) {
	b, err := secret.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	us, err := ParseUsers(b)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if us.Len() == 0 {
		return nil, fmt.Errorf("users file %s holds no users: add one with 'lifeboat token create'", path)
	}
	return us, nil
}

// Len is the number of users.
func (us *Users) Len() int {
	us.mu.RLock()
	defer us.mu.RUnlock()
	return len(us.list)
}

// Has reports whether a user of that name exists.
func (us *Users) Has(name string) bool {
	_, ok := us.Role(name)
	return ok
}

// Role returns the role of the user of that name.
func (us *Users) Role(name string) (Role, bool) {
	us.mu.RLock()
	defer us.mu.RUnlock()
	for _, u := range us.list {
		if u.Name == name {
			return u.Role, true
		}
	}
	return RoleNone, false
}

// match returns the user whose token is tok. It compares the token's hash with every entry in
// constant time, so the time taken does not say which entry, if any, came close.
func (us *Users) match(tok string) (User, bool) {
	sum := sha256.Sum256([]byte(tok))
	var found User
	ok := 0
	us.mu.RLock()
	defer us.mu.RUnlock()
	for _, u := range us.list {
		eq := subtle.ConstantTimeCompare(sum[:], u.Hash[:])
		if eq == 1 {
			found = u
		}
		ok |= eq
	}
	return found, ok == 1
}

// NewToken makes a token: TokenPrefix and 32 random bytes in base64url. It returns the token,
// to give to its owner once, and the user entry that stores only its hash.
func NewToken(name string, role Role) (string, User, error) {
	if err := CheckUserName(name); err != nil {
		return "", User{}, err
	}
	if role < RoleViewer || role > RoleAdmin {
		return "", User{}, errors.New("a token needs the role viewer, operator or admin")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", User{}, fmt.Errorf("random token: %w", err)
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return tok, User{Name: name, Role: role, Hash: sha256.Sum256([]byte(tok))}, nil
}
