package redfish

import (
	"strings"
	"testing"
)

// FuzzCredentials: the credentials parser never panics, what it accepts has both a user name
// and a password, and its errors never show a password.
func FuzzCredentials(f *testing.F) {
	for _, seed := range []string{"username=admin\npassword=pw\n", "login=a\npasswd=b", "# c\n\nusername = a \n password= b", "password=only", "junk", "username=a\npassword=s3cr=t"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := parseCredentials("creds", []byte(body))
		if err != nil {
			for _, line := range strings.Split(body, "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.Contains(strings.ToLower(k), "pass") && len(strings.TrimSpace(v)) > 3 && strings.Contains(err.Error(), strings.TrimSpace(v)) {
					t.Fatalf("the error shows a password: %v", err)
				}
			}
			return
		}
		if c.Username == "" || c.Password == "" {
			t.Fatalf("%q: accepted %v without a user name or password", body, c)
		}
	})
}
