package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/testenv/pki"
)

// disarmFake is a cliFake that disarms, recording who asked.
type disarmFake struct {
	*cliFake
	mu  sync.Mutex
	got []string
}

func (f *disarmFake) Disarm(ctx context.Context, reason string) (api.DisarmView, error) {
	id, _ := api.IdentityFrom(ctx)
	f.mu.Lock()
	f.got = append(f.got, "disarm by "+id.Name+": "+reason)
	f.mu.Unlock()
	return api.DisarmView{Disarmed: true, Reason: reason, By: id.Name + " (from " + id.Remote + ")"}, nil
}

func (f *disarmFake) Arm(ctx context.Context) (api.DisarmView, error) {
	id, _ := api.IdentityFrom(ctx)
	f.mu.Lock()
	f.got = append(f.got, "arm by "+id.Name)
	f.mu.Unlock()
	return api.DisarmView{}, nil
}

// TestTokenCreateAndRolesOverTLS: 'token create' stores only a hash in a 600 file and prints the
// token once; the daemon, over real TLS, takes the token with the role it was given, and the CLI
// trusts the daemon's CA through --ca-file or LIFEBOAT_CA_FILE.
func TestTokenCreateAndRolesOverTLS(t *testing.T) {
	for _, env := range []string{envServer, envConfig, envToken, envCAFile, envCert, envKey} {
		t.Setenv(env, "")
	}
	ctx := t.Context()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	tokens := map[string]string{}
	for name, role := range map[string]string{"ada": "admin", "otto": "operator"} {
		out, err := runCLI(ctx, "token", "create", "--name", name, "--role", role, "--users-file", users)
		if err != nil {
			t.Fatalf("token create %s: %v\n%s", name, err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		tok := lines[0]
		if !strings.HasPrefix(tok, api.TokenPrefix) {
			t.Fatalf("token create printed %q", out)
		}
		tokens[name] = tok
	}
	st, err := os.Stat(users)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("users file: %v %v, want mode 600", st, err)
	}
	body, _ := os.ReadFile(users)
	for _, tok := range tokens {
		if strings.Contains(string(body), tok) {
			t.Fatal("the users file holds a token, not its hash")
		}
	}
	if _, err := runCLI(ctx, "token", "create", "--name", "ada", "--role", "viewer", "--users-file", users); err == nil || !strings.Contains(err.Error(), "already has a user named ada") {
		t.Fatalf("a second ada: %v", err)
	}
	if _, err := runCLI(ctx, "token", "create", "--name", "eve", "--role", "root", "--users-file", users); err == nil || !strings.Contains(err.Error(), `--role: role "root"`) {
		t.Fatalf("role root: %v", err)
	}

	us, err := api.ReadUsersFile(users)
	if err != nil {
		t.Fatal(err)
	}
	f := &disarmFake{cliFake: newCLIFake()}
	h, err := api.NewServer(f, api.ServerOptions{Users: us})
	if err != nil {
		t.Fatal(err)
	}
	ca := pki.New(t, "lifeboat-test")
	cert, key := ca.Issue("lifeboat", true)
	tlsCfg, err := api.ServerTLS(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = tlsCfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tokFile := func(name string) string {
		p := filepath.Join(dir, name+".token")
		if err := os.WriteFile(p, []byte(tokens[name]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Without the CA the daemon's certificate is refused.
	if _, err := runCLI(ctx, "status", "--server", srv.URL, "--token-file", tokFile("ada")); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("status without the CA: %v", err)
	}
	out, err := runCLI(ctx, "whoami", "--server", srv.URL, "--token-file", tokFile("otto"), "--ca-file", ca.CAFile)
	if err != nil || !strings.Contains(out, "otto (role operator, by token, from 127.0.0.1)") {
		t.Fatalf("whoami: %v %q", err, out)
	}
	t.Setenv(envCAFile, ca.CAFile)
	if _, err := runCLI(ctx, "disarm", "--reason", "switch upgrade", "--server", srv.URL, "--token-file", tokFile("otto")); err == nil ||
		!strings.Contains(err.Error(), "otto may not POST /v1/disarm: that needs the admin role") || !strings.Contains(err.Error(), "lifeboat whoami") {
		t.Fatalf("disarm as an operator: %v", err)
	}
	out, err = runCLI(ctx, "disarm", "--reason", "switch upgrade", "--server", srv.URL, "--token-file", tokFile("ada"))
	if err != nil || !strings.Contains(out, "disarmed by ada (from 127.0.0.1): switch upgrade") {
		t.Fatalf("disarm as an admin: %v %q", err, out)
	}
	if _, err := runCLI(ctx, "arm", "--server", srv.URL, "--token-file", tokFile("ada")); err != nil {
		t.Fatalf("arm: %v", err)
	}
	if _, err := runCLI(ctx, "status", "--server", srv.URL); err == nil || !strings.Contains(err.Error(), "missing credentials") {
		t.Fatalf("status without a token: %v", err)
	}
	if got := strings.Join(f.got, "|"); got != "disarm by ada: switch upgrade|arm by ada" {
		t.Fatalf("the daemon got %q", got)
	}

	// 'token revoke' removes the entry; an exposed users file is refused.
	if _, err := runCLI(ctx, "token", "revoke", "--name", "otto", "--users-file", users); err != nil {
		t.Fatal(err)
	}
	if us, err := api.ReadUsersFile(users); err != nil || us.Has("otto") || !us.Has("ada") {
		t.Fatalf("after revoking otto: %v", err)
	}
	if err := os.Chmod(users, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(ctx, "token", "create", "--name", "vera", "--role", "viewer", "--users-file", users); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Fatalf("token create into a world-readable file: %v", err)
	}
}
