package bmc

import "sync/atomic"

// counters are the server's request and connection counts.
type counters struct {
	requests   atomic.Uint64
	handshakes atomic.Uint64
	basicAuth  atomic.Uint64
	tokenAuth  atomic.Uint64
	pushOK     atomic.Uint64
	pushFailed atomic.Uint64
}

// Stats is what a Server has served since it started: what a BMC pays for being watched.
type Stats struct {
	// Requests counts HTTP requests, answered or refused.
	Requests uint64
	// Handshakes counts TLS handshakes begun (one per new connection).
	Handshakes uint64
	// BasicAuth counts requests authorised by a user name and password.
	BasicAuth uint64
	// TokenAuth counts requests authorised by a session's X-Auth-Token.
	TokenAuth uint64
	// SessionsCreated, SessionsDeleted and SessionsExpired count logins, logouts and sessions
	// dropped for being unused longer than the session timeout.
	SessionsCreated, SessionsDeleted, SessionsExpired uint64
	// SessionsOpen is the number of live sessions.
	SessionsOpen int
}

// Stats returns the server's counts so far.
func (s *Server) Stats() Stats {
	open := len(s.sessions.ids()) // reaps expired sessions first
	t := s.sessions
	t.mu.Lock()
	created, deleted, expired := t.created, t.deleted, t.expired
	t.mu.Unlock()
	return Stats{Requests: s.stats.requests.Load(), Handshakes: s.stats.handshakes.Load(),
		BasicAuth: s.stats.basicAuth.Load(), TokenAuth: s.stats.tokenAuth.Load(),
		SessionsCreated: created, SessionsDeleted: deleted, SessionsExpired: expired, SessionsOpen: open}
}
