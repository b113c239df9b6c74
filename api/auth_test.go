package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeboat-ha/lifeboat/testenv/pki"
)

// auditFake is an opsFake that also disarms and audits.
type auditFake struct {
	*opsFake
	amu    sync.Mutex
	audits []AuditRecord
}

func (f *auditFake) Audit(_ context.Context, rec AuditRecord) {
	f.amu.Lock()
	defer f.amu.Unlock()
	f.audits = append(f.audits, rec)
}

func (f *auditFake) audited() []AuditRecord {
	f.amu.Lock()
	defer f.amu.Unlock()
	return append([]AuditRecord(nil), f.audits...)
}

func (f *auditFake) Disarm(ctx context.Context, reason string) (DisarmView, error) {
	f.record(ctx, "disarm: %s", reason)
	id, _ := IdentityFrom(ctx)
	return DisarmView{Disarmed: true, Reason: reason, By: id.Name}, nil
}

func (f *auditFake) Arm(ctx context.Context) (DisarmView, error) {
	f.record(ctx, "arm")
	return DisarmView{}, nil
}

// testUsers makes a viewer, an operator and an admin, and returns their tokens by name.
func testUsers(t *testing.T) (*Users, map[string]string) {
	t.Helper()
	toks := map[string]string{}
	var lines []string
	for name, role := range map[string]Role{"vera": RoleViewer, "otto": RoleOperator, "ada": RoleAdmin} {
		tok, u, err := NewToken(name, role)
		if err != nil {
			t.Fatal(err)
		}
		toks[name] = tok
		lines = append(lines, u.Line())
	}
	us, err := ParseUsers([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return us, toks
}

// serveTLS serves h over TLS on a real socket with the CA's server certificate and client CA.
func serveTLS(t *testing.T, h http.Handler, ca *pki.CA) string {
	t.Helper()
	cert, key := ca.Issue("lifeboat", true)
	cfg, err := ServerTLS(cert, key, ca.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRolesOverTLS runs every role against the API over real TLS with a users file, the admin
// token and client certificates: 401 without or with bad credentials (saying nothing about
// which part was wrong), 403 for a role too low, and the backend sees the credential's name.
func TestRolesOverTLS(t *testing.T) {
	ca := pki.New(t, "lifeboat-test")
	us, toks := testUsers(t)
	f := &auditFake{opsFake: newOpsFake()}
	h, err := NewServer(f, ServerOptions{Token: "admin-token", Users: us, ClientCerts: true, MetricsAuth: true, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, h, ca)
	ctx := t.Context()
	client := func(token string, opts ...ClientOption) *Client {
		t.Helper()
		c, err := NewClient(url, token, append([]ClientOption{WithCAFile(ca.CAFile)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Without the CA, the client refuses the daemon's certificate.
	if c, err := NewClient(url, toks["vera"]); err != nil {
		t.Fatal(err)
	} else if _, err := c.Status(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the CA: %v, want a certificate error", err)
	}

	// 401: nothing, a wrong token, a token of the right shape that is nobody's.
	strangerTok, _, _ := NewToken("stranger", RoleAdmin)
	var msgs []string
	for _, tok := range []string{"", "wrong", strangerTok, toks["vera"] + "x"} {
		_, err := client(tok).Status(ctx)
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("token %q: %v, want 401", tok, err)
		}
		if tok != "" && strings.Contains(ae.Message, tok) {
			t.Fatalf("the 401 shows the token: %s", ae.Message)
		}
		if tok != "" {
			msgs = append(msgs, ae.Message)
		}
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Fatalf("401 messages differ by token (%q vs %q): they tell what came close", msgs[0], m)
		}
	}

	// Each role: what it may do, and 403 for what it may not.
	for _, c := range []struct {
		who     string
		c       *Client
		degrade bool
		confirm bool
	}{
		{"vera", client(toks["vera"]), false, false},
		{"otto", client(toks["otto"]), true, false},
		{"ada", client(toks["ada"]), true, true},
		{"token", client("admin-token"), true, true},
	} {
		if _, err := c.c.Status(ctx); err != nil {
			t.Fatalf("%s reads the status: %v", c.who, err)
		}
		if w, err := c.c.Whoami(ctx); err != nil || w.Name != c.who || w.Method != "token" || w.Remote != "127.0.0.1" {
			t.Fatalf("%s whoami: %+v %v", c.who, w, err)
		}
		err := c.c.Degrade(ctx, "h1", "fan")
		if c.degrade != (err == nil) || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Fatalf("%s degrade: %v, want allowed=%v else 403", c.who, err, c.degrade)
		}
		if err != nil && (!strings.Contains(err.Error(), "needs the operator role") || !strings.Contains(err.Error(), c.who)) {
			t.Fatalf("%s degrade: the 403 %q does not say what role it needs", c.who, err)
		}
		err = c.c.ConfirmOff(ctx, "h1", "h1")
		if c.confirm != (err == nil) || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Fatalf("%s confirm-off: %v, want allowed=%v else 403", c.who, err, c.confirm)
		}
		_, err = c.c.Disarm(ctx, "maintenance")
		if c.confirm != (err == nil) || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Fatalf("%s disarm: %v, want allowed=%v else 403", c.who, err, c.confirm)
		}
	}
	want := []string{"degrade h1: fan by otto", "degrade h1: fan by ada", "confirm-off h1 by ada", "disarm: maintenance by ada",
		"degrade h1: fan by token", "confirm-off h1 by token", "disarm: maintenance by token"}
	if got := f.recorded(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the backend got %q, want %q", got, want)
	}

	// Client certificates: the common name is the identity; the role comes from the users file
	// entry of that name, else the OU; no role, no entry.
	certCalls := len(f.recorded())
	aliceCert, aliceKey := ca.Issue("alice", false, "operator")
	alice := client("", WithClientCert(aliceCert, aliceKey))
	if w, err := alice.Whoami(ctx); err != nil || w.Name != "alice" || w.Role != "operator" || w.Method != "certificate" {
		t.Fatalf("alice's certificate: %+v %v", w, err)
	}
	if err := alice.Degrade(ctx, "h2", "disk"); err != nil {
		t.Fatalf("alice (operator by OU) degrade: %v", err)
	}
	if err := alice.ConfirmOff(ctx, "h2", "h2"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("alice (operator) confirm-off: %v, want 403", err)
	}
	veraCert, veraKey := ca.Issue("vera", false, "admin") // the users file says viewer: it wins
	if w, err := client("", WithClientCert(veraCert, veraKey)).Whoami(ctx); err != nil || w.Role != "viewer" {
		t.Fatalf("vera's certificate: %+v %v, want the users file's role", w, err)
	}
	nobodyCert, nobodyKey := ca.Issue("nobody", false)
	if err := client("", WithClientCert(nobodyCert, nobodyKey)).Degrade(ctx, "h1", "x"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a certificate without a role: %v, want 403", err)
	}
	other := pki.New(t, "someone-else")
	evilCert, evilKey := other.Issue("ada", false, "admin")
	if _, err := client("", WithClientCert(evilCert, evilKey)).Status(ctx); err == nil {
		t.Fatal("a certificate from another CA was accepted")
	}
	if got := f.recorded()[certCalls:]; len(got) != 1 || got[0] != "degrade h2: disk by alice" {
		t.Fatalf("client certificates: the backend got %q", got)
	}

	// /metrics under api.metrics_auth: a viewer's token.
	for tok, want := range map[string]int{"": http.StatusUnauthorized, toks["vera"]: http.StatusOK} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client("").hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("/metrics with %q: %d, want %d", tok, resp.StatusCode, want)
		}
	}

	// The audit trail: every changing call, refused ones too, with who, role and result.
	var trail []string
	for _, a := range f.audited() {
		trail = append(trail, a.Method+" "+a.Path+" "+a.Identity.Name+"/"+a.Role+" "+a.Result())
	}
	for _, want := range []string{
		"POST /v1/hosts/h1/degrade vera/viewer failed 403: vera may not POST /v1/hosts/h1/degrade: that needs the operator role",
		"POST /v1/hosts/h1/degrade otto/operator ok",
		"POST /v1/hosts/h1/confirm-off ada/admin ok",
		"POST /v1/disarm token/admin ok",
		"POST /v1/hosts/h2/degrade alice/operator ok",
		"POST /v1/hosts/h1/degrade nobody/none failed 403: nobody may not POST /v1/hosts/h1/degrade: that needs the operator role",
	} {
		found := false
		for _, l := range trail {
			found = found || l == want
		}
		if !found {
			t.Errorf("the audit trail lacks %q:\n%s", want, strings.Join(trail, "\n"))
		}
	}
	for _, a := range f.audited() {
		if a.Method == http.MethodGet {
			t.Errorf("a read was audited: %+v", a)
		}
	}
}

// TestUnauthenticatedChangesAreAudited: a POST without credentials is refused with 401 and
// audited as unauthenticated, with the caller's address.
func TestUnauthenticatedChangesAreAudited(t *testing.T) {
	f := &auditFake{opsFake: newOpsFake()}
	srv := serveAuditFake(t, f, ServerOptions{Token: "tok"})
	code, _ := post(t, srv+"/v1/hosts/h1/drain", "")
	if code != http.StatusUnauthorized {
		t.Fatalf("drain without a token: %d", code)
	}
	a := f.audited()
	if len(a) != 1 || a[0].Status != 401 || a[0].Identity.Name != "" || a[0].Who() != "an unauthenticated caller from 127.0.0.1" || a[0].Path != "/v1/hosts/h1/drain" {
		t.Fatalf("audit: %+v", a)
	}
	if len(f.recorded()) != 0 {
		t.Fatal("an unauthenticated drain reached the backend")
	}
}

// TestNoAuthenticationIsAnonymousAdmin: without credentials configured, every caller is
// "anonymous" and may do everything (the daemon allows that on loopback only).
func TestNoAuthenticationIsAnonymousAdmin(t *testing.T) {
	f := &auditFake{opsFake: newOpsFake()}
	srv := serveAuditFake(t, f, ServerOptions{})
	if code, body := post(t, srv+"/v1/disarm", `{"reason":"test"}`); code != http.StatusOK {
		t.Fatalf("disarm: %d %s", code, body)
	}
	if got := f.recorded(); len(got) != 1 || got[0] != "disarm: test by anonymous" {
		t.Fatalf("the backend got %q", got)
	}
	if code, body := post(t, srv+"/v1/disarm", `{"reason":" "}`); code != http.StatusBadRequest || !strings.Contains(body, "reason is required") {
		t.Fatalf("disarm without a reason: %d %s", code, body)
	}
	if _, err := NewServer(f, ServerOptions{MetricsAuth: true}); err == nil {
		t.Fatal("metrics authentication without any credential was accepted")
	}
}

func serveAuditFake(t *testing.T, f *auditFake, opts ServerOptions) string {
	t.Helper()
	h, err := NewServer(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPlainHTTPToTLSFails: a client speaking plain HTTP to the TLS port gets an error, not an
// answer.
func TestPlainHTTPToTLSFails(t *testing.T) {
	ca := pki.New(t, "ca")
	h, err := NewServer(newFake(), ServerOptions{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, h, ca)
	c, err := NewClient(strings.Replace(url, "https://", "http://", 1), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(t.Context()); err == nil {
		t.Fatal("plain HTTP to the TLS port answered")
	}
}

// TestRouteWithoutRoleFailsClosed: a /v1 route registered without a role needs an admin.
func TestRouteWithoutRoleFailsClosed(t *testing.T) {
	us, toks := testUsers(t)
	h, err := NewServer(newFake(), ServerOptions{Users: us})
	if err != nil {
		t.Fatal(err)
	}
	h.(*server).mux.HandleFunc("GET /v1/new-thing", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := httptest.NewServer(h)
	defer srv.Close()
	for name, want := range map[string]int{"vera": http.StatusForbidden, "otto": http.StatusForbidden, "ada": http.StatusOK} {
		if code, body, _ := get(t, srv.URL+"/v1/new-thing", toks[name]); code != want {
			t.Errorf("%s: %d %s, want %d", name, code, body, want)
		}
	}
}

// TestClientFollowsTheLeaderWithItsToken: a follower's 307 to the leader (another host) keeps
// the bearer token, which net/http would drop; a redirect from https to http is refused.
func TestClientFollowsTheLeaderWithItsToken(t *testing.T) {
	f := &auditFake{opsFake: newOpsFake()}
	leader := serveAuditFake(t, f, ServerOptions{Token: "tok"})
	leaderURL := strings.Replace(leader, "127.0.0.1", "localhost", 1) // another host name
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", leaderURL+r.URL.RequestURI())
		writeError(w, http.StatusTemporaryRedirect, CodeNotLeader, "this daemon is a follower")
	}))
	defer follower.Close()
	c, err := NewClient(follower.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Degrade(t.Context(), "h1", "fan"); err != nil {
		t.Fatalf("degrade through the follower: %v", err)
	}
	if got := f.recorded(); len(got) != 1 || got[0] != "degrade h1: fan by token" {
		t.Fatalf("the leader got %q", got)
	}

	ca := pki.New(t, "ca")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", leader+r.URL.RequestURI()) // plain http
		writeError(w, http.StatusTemporaryRedirect, CodeNotLeader, "this daemon is a follower")
	})
	tlsFollower := serveTLS(t, h, ca)
	c, err = NewClient(tlsFollower, "tok", WithCAFile(ca.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Degrade(t.Context(), "h1", "fan"); err == nil || !strings.Contains(err.Error(), "not https") {
		t.Fatalf("a redirect from https to http: %v", err)
	}
	if len(f.recorded()) != 1 {
		t.Fatal("the token went to a plain-http leader")
	}
}
