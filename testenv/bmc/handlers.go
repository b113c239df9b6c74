package bmc

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// authTokenHeader carries a session's token.
const authTokenHeader = "X-Auth-Token"

// authRealm is the basic-auth realm of the emulator.
const authRealm = "lifeboat-bmc"

// route is one resource: whether it needs credentials and its handlers by
// method. openMethods need no credentials even on a non-public route (the
// login, POST on the session collection).
type route struct {
	public      bool
	openMethods map[string]bool
	methods     map[string]http.HandlerFunc
}

// open reports whether method on the route needs no credentials.
func (rt route) open(method string) bool { return rt.public || rt.openMethods[method] }

// allow is the value of the Allow header for the route.
func (rt route) allow() string {
	var ms []string
	for m := range rt.methods {
		ms = append(ms, m)
		if m == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// handler returns the route's handler for method; HEAD is served by GET.
func (rt route) handler(method string) (http.HandlerFunc, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h, ok := rt.methods[method]
	return h, ok
}

// routes builds the emulator's resource table, keyed by path without a
// trailing slash.
func (s *Server) routes() map[string]route {
	rt := map[string]route{
		pathVersions:   {public: true, methods: map[string]http.HandlerFunc{http.MethodGet: s.getVersions}},
		pathRoot:       {public: true, methods: map[string]http.HandlerFunc{http.MethodGet: s.getServiceRoot}},
		pathSystems:    {methods: map[string]http.HandlerFunc{http.MethodGet: s.getSystems}},
		s.systemPath(): {methods: map[string]http.HandlerFunc{http.MethodGet: s.getSystem}},
		s.resetPath():  {methods: map[string]http.HandlerFunc{http.MethodPost: s.postReset}},
	}
	if !s.cfg.NoSessionService {
		rt[pathSessionService] = route{methods: map[string]http.HandlerFunc{http.MethodGet: s.getSessionService}}
		rt[pathSessions] = route{openMethods: map[string]bool{http.MethodPost: true},
			methods: map[string]http.HandlerFunc{http.MethodGet: s.getSessions, http.MethodPost: s.postSession}}
	}
	if !s.cfg.NoEventService {
		rt[pathEventService] = route{methods: map[string]http.HandlerFunc{http.MethodGet: s.getEventService}}
		if !s.cfg.NoSSE {
			rt[pathSSE] = route{methods: map[string]http.HandlerFunc{http.MethodGet: s.getSSE}}
		}
		if !s.cfg.NoPush {
			rt[pathSubscriptions] = route{methods: map[string]http.HandlerFunc{
				http.MethodGet: s.getSubscriptions, http.MethodPost: s.postSubscription}}
		}
	}
	return rt
}

// route finds the resource at path (without a trailing slash).
func (s *Server) route(path string) (route, bool) {
	if rt, ok := s.routeTable[path]; ok {
		return rt, true
	}
	if id := sessionID(path); id != "" && !s.cfg.NoSessionService {
		return s.sessionMember(id), true
	}
	if id := subscriptionID(path); id != "" && !s.cfg.NoEventService && !s.cfg.NoPush {
		return s.subscriptionMember(id), true
	}
	return route{}, false
}

// serveHTTP answers one Redfish request: it finds the resource, checks the
// credentials unless the resource is public, then checks the method.
// Credentials are checked before existence, as on a real BMC, so an
// unauthenticated client learns nothing about which paths exist.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.cfg.Logger.Debug("bmc request", "system", s.cfg.SystemID, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	path := r.URL.Path
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	s.stats.requests.Add(1)
	rt, found := s.route(path)
	if !(found && rt.open(r.Method)) && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+authRealm+`"`)
		writeError(w, apiError{
			status:     http.StatusUnauthorized,
			messageID:  msgNoValidSession,
			message:    "There is no valid session established with the implementation: a valid X-Auth-Token or basic-auth credentials are required.",
			resolution: "Log in at " + pathSessions + " and send the session's X-Auth-Token, or send a valid user name and password with HTTP basic authentication.",
		})
		return
	}
	if !found {
		writeNotFound(w, r)
		return
	}
	h, ok := rt.handler(r.Method)
	if !ok {
		w.Header().Set("Allow", rt.allow())
		writeError(w, apiError{
			status:     http.StatusMethodNotAllowed,
			messageID:  msgOperationNotAllowed,
			message:    "The method " + r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + rt.allow() + ".",
			resolution: "Use one of the methods in the Allow header.",
		})
		return
	}
	h(w, r)
}

// writeNotFound answers 404 for r's path.
func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, apiError{
		status:     http.StatusNotFound,
		messageID:  msgResourceMissingAtURI,
		message:    "The resource at the URI " + r.URL.Path + " was not found.",
		resolution: "Place a valid resource at the URI or correct the URI and resubmit the request.",
	})
}

// authorized reports whether r carries the token of a live session or, when
// it sends no token, the configured basic-auth credentials (compared in
// constant time). A request with a stale token is refused even if it also
// sends a password, as on a real BMC.
func (s *Server) authorized(r *http.Request) bool {
	if token := r.Header.Get(authTokenHeader); token != "" {
		ok := s.sessions.use(token)
		if ok {
			s.stats.tokenAuth.Add(1)
		}
		return ok
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) == 1
	if userOK && passOK {
		s.stats.basicAuth.Add(1)
	}
	return userOK && passOK
}
