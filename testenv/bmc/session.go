package bmc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Session service paths and defaults.
const (
	pathSessionService = "/redfish/v1/SessionService"
	pathSessions       = pathSessionService + "/Sessions"
	// DefaultSessionTimeout is how long a session may stay unused before it expires when
	// Config.SessionTimeout is zero (the Redfish default is 30 minutes).
	DefaultSessionTimeout = 30 * time.Minute
	// DefaultMaxSessions bounds the open sessions when Config.MaxSessions is zero; real BMCs
	// allow a handful.
	DefaultMaxSessions = 8
	msgSessionLimit    = "Base.1.0.SessionLimitExceeded"
	maxLoginBody       = 4 << 10
)

// session is one Redfish session: its id, secret token and when it was last used.
type session struct {
	id       string
	token    string
	user     string
	created  time.Time
	lastUsed time.Time
}

// sessionTable holds a server's open sessions. A session expires when it has not been used for
// the timeout; expired sessions are dropped lazily, on the next lookup or login.
type sessionTable struct {
	now     func() time.Time
	timeout time.Duration
	max     int

	mu      sync.Mutex
	byID    map[string]*session
	created uint64
	deleted uint64
	expired uint64
}

func newSessionTable(now func() time.Time, timeout time.Duration, max int) *sessionTable {
	return &sessionTable{now: now, timeout: timeout, max: max, byID: map[string]*session{}}
}

// reap drops expired sessions. Caller holds t.mu.
func (t *sessionTable) reap(now time.Time) {
	for id, s := range t.byID {
		if now.Sub(s.lastUsed) > t.timeout {
			delete(t.byID, id)
			t.expired++
		}
	}
}

// open creates a session for user; false when the table is full.
func (t *sessionTable) open(user string) (session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.reap(now)
	if len(t.byID) >= t.max {
		return session{}, false
	}
	s := &session{id: randomHex(8), token: randomHex(32), user: user, created: now, lastUsed: now}
	t.byID[s.id] = s
	t.created++
	return *s, true
}

// use finds the live session holding token and marks it used; false when there is none.
func (t *sessionTable) use(token string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.reap(now)
	for _, s := range t.byID {
		if subtle.ConstantTimeCompare([]byte(s.token), []byte(token)) == 1 {
			s.lastUsed = now
			return true
		}
	}
	return false
}

// idOf returns the id of the live session holding token, "" if none.
func (t *sessionTable) idOf(token string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.byID {
		if subtle.ConstantTimeCompare([]byte(s.token), []byte(token)) == 1 {
			return s.id
		}
	}
	return ""
}

// get returns a copy of the live session id, if any.
func (t *sessionTable) get(id string) (session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reap(t.now())
	s, ok := t.byID[id]
	if !ok {
		return session{}, false
	}
	return *s, true
}

// close deletes session id; false when there is none.
func (t *sessionTable) close(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reap(t.now())
	if _, ok := t.byID[id]; !ok {
		return false
	}
	delete(t.byID, id)
	t.deleted++
	return true
}

// ids lists the live sessions' ids, sorted.
func (t *sessionTable) ids() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reap(t.now())
	out := make([]string, 0, len(t.byID))
	for id := range t.byID {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics first)
	return hex.EncodeToString(b)
}

// sessionPath is the resource path of session id.
func sessionPath(id string) string { return pathSessions + "/" + id }

// sessionID returns the id of a session member path, "" if path is not one.
func sessionID(path string) string {
	id, ok := strings.CutPrefix(path, pathSessions+"/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// sessionResource renders a Session resource.
func sessionResource(s session) map[string]any {
	return map[string]any{
		"@odata.type": "#Session.v1_7_0.Session",
		"@odata.id":   sessionPath(s.id),
		"Id":          s.id,
		"Name":        "User Session",
		"UserName":    s.user,
		"CreatedTime": s.created.UTC().Format(time.RFC3339),
	}
}

// getSessionService answers GET /redfish/v1/SessionService.
func (s *Server) getSessionService(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.type":    "#SessionService.v1_1_9.SessionService",
		"@odata.id":      pathSessionService,
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": int(s.sessions.timeout / time.Second),
		"Sessions":       odataID{pathSessions},
	})
}

// getSessions answers GET /redfish/v1/SessionService/Sessions.
func (s *Server) getSessions(w http.ResponseWriter, _ *http.Request) {
	ids := s.sessions.ids()
	members := make([]odataID, 0, len(ids))
	for _, id := range ids {
		members = append(members, odataID{sessionPath(id)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.type":         "#SessionCollection.SessionCollection",
		"@odata.id":           pathSessions,
		"Name":                "Session Collection",
		"Members":             members,
		"Members@odata.count": len(members),
	})
}

// postSession answers POST /redfish/v1/SessionService/Sessions, the login: it needs no prior
// credentials, checks the UserName and Password in the body, and answers 201 with the session's
// URI in Location and its token in X-Auth-Token.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserName *string `json:"UserName"`
		Password *string `json:"Password"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLoginBody))
	if err := dec.Decode(&body); err != nil {
		writeError(w, apiError{status: http.StatusBadRequest, messageID: msgMalformedJSON,
			message:    "The request body submitted was malformed JSON: " + err.Error() + ".",
			resolution: `Send {"UserName": ..., "Password": ...}.`})
		return
	}
	if body.UserName == nil || body.Password == nil {
		writeError(w, apiError{status: http.StatusBadRequest, messageID: msgActionParameterMiss,
			message:    "The login requires both UserName and Password.",
			resolution: `Send {"UserName": ..., "Password": ...}.`})
		return
	}
	userOK := subtle.ConstantTimeCompare([]byte(*body.UserName), []byte(s.cfg.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(*body.Password), []byte(s.cfg.Password)) == 1
	if !userOK || !passOK {
		writeError(w, apiError{status: http.StatusUnauthorized, messageID: msgNoValidSession,
			message:    "The user name or password is not valid.",
			resolution: "Log in with valid credentials."})
		return
	}
	sess, ok := s.sessions.open(*body.UserName)
	if !ok {
		writeError(w, apiError{status: http.StatusServiceUnavailable, messageID: msgSessionLimit,
			message:    "The session establishment failed: the number of simultaneous sessions exceeds the limit of the implementation.",
			resolution: "Reduce the number of other sessions before trying to establish the session, or increase the limit of simultaneous sessions."})
		return
	}
	s.cfg.Logger.Debug("bmc session opened", "system", s.cfg.SystemID, "session", sess.id)
	w.Header().Set("Location", sessionPath(sess.id))
	w.Header().Set("X-Auth-Token", sess.token)
	writeJSON(w, http.StatusCreated, sessionResource(sess))
}

// getSession answers GET on a session member.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request, id string) {
	sess, ok := s.sessions.get(id)
	if !ok {
		writeNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, sessionResource(sess))
}

// deleteSession answers DELETE on a session member, the logout.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, id string) {
	if !s.sessions.close(id) {
		writeNotFound(w, r)
		return
	}
	s.cfg.Logger.Debug("bmc session closed", "system", s.cfg.SystemID, "session", id)
	s.dropStreamsOf(id)
	w.WriteHeader(http.StatusNoContent)
}

// sessionMember is the route of the session member id.
func (s *Server) sessionMember(id string) route {
	return route{methods: map[string]http.HandlerFunc{
		http.MethodGet:    func(w http.ResponseWriter, r *http.Request) { s.getSession(w, r, id) },
		http.MethodDelete: func(w http.ResponseWriter, r *http.Request) { s.deleteSession(w, r, id) },
	}}
}

// Sessions lists the ids of the open (unexpired) sessions.
func (s *Server) Sessions() []string { return s.sessions.ids() }
