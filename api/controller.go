package api

import (
	"net/http"
	"strings"
)

// ControllerView is which daemon acts on the cluster, as this daemon sees it.
type ControllerView struct {
	// Name is this daemon's name (lifeboat daemon --name).
	Name string `json:"name"`
	// Role is leader or follower (etcd store, elected), or single (embedded store).
	Role string `json:"role"`
	// Acting tells whether this daemon acts now (fences, restarts, migrates).
	Acting bool `json:"acting"`
	// Leader is the acting daemon's name ("" when none is known); LeaderURL its API.
	Leader    string `json:"leader"`
	LeaderURL string `json:"leader_url,omitempty"`
	// Term is the leader's term (its election key's revision; 0 without election).
	Term int64 `json:"term"`
	// Peers are the running daemons.
	Peers []PeerView `json:"peers"`
	// Why says why this daemon acts or does not, for people.
	Why string `json:"why,omitempty"`
}

// PeerView is a running daemon.
type PeerView struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Follower is implemented by a Backend that may not be the acting daemon. While Redirect says
// so, calls that change something (every /v1 method but GET and HEAD, except the Alertmanager
// receiver, which only records observations) are answered 307 with the leader's address, or
// 503 when no leader is known.
type Follower interface {
	// Redirect returns follower true while this daemon does not act, with the acting daemon's
	// API URL ("" when unknown) and why, for the error message.
	Redirect() (follower bool, leaderURL, why string)
}

// redirectToLeader answers a changing call on a follower; it reports whether it did.
func (s *server) redirectToLeader(w http.ResponseWriter, r *http.Request) bool {
	f, ok := s.b.(Follower)
	if !ok || r.Method == http.MethodGet || r.Method == http.MethodHead || !strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == AlertmanagerPath {
		return false
	}
	follower, leader, why := f.Redirect()
	if !follower {
		return false
	}
	if leader == "" {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "this daemon does not act and no leader is known: "+why)
		return true
	}
	w.Header().Set("Location", strings.TrimSuffix(leader, "/")+r.URL.RequestURI())
	writeError(w, http.StatusTemporaryRedirect, CodeNotLeader, "this daemon is a follower; the leader is at "+leader)
	return true
}

// Error codes of a follower.
const (
	// CodeNotLeader: HTTP 307, the call changes something and this daemon is a follower; the
	// Location header has the leader's address.
	CodeNotLeader = "not_leader"
	// CodeUnavailable: HTTP 503, the call changes something and no daemon acts now.
	CodeUnavailable = "unavailable"
)
