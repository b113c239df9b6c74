package bmc

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// authRealm is the basic-auth realm of the emulator.
const authRealm = "lifeboat-bmc"

// route is one resource: whether it needs credentials and its handlers by
// method.
type route struct {
	public  bool
	methods map[string]http.HandlerFunc
}

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
	return map[string]route{
		pathVersions:   {public: true, methods: map[string]http.HandlerFunc{http.MethodGet: s.getVersions}},
		pathRoot:       {public: true, methods: map[string]http.HandlerFunc{http.MethodGet: s.getServiceRoot}},
		pathSystems:    {methods: map[string]http.HandlerFunc{http.MethodGet: s.getSystems}},
		s.systemPath(): {methods: map[string]http.HandlerFunc{http.MethodGet: s.getSystem}},
		s.resetPath():  {methods: map[string]http.HandlerFunc{http.MethodPost: s.postReset}},
	}
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
	rt, found := s.routeTable[path]
	if !(found && rt.public) && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+authRealm+`"`)
		writeError(w, apiError{
			status:     http.StatusUnauthorized,
			messageID:  msgNoValidSession,
			message:    "There is no valid session established with the implementation: valid basic-auth credentials are required.",
			resolution: "Send a valid user name and password with HTTP basic authentication.",
		})
		return
	}
	if !found {
		writeError(w, apiError{
			status:     http.StatusNotFound,
			messageID:  msgResourceMissingAtURI,
			message:    "The resource at the URI " + r.URL.Path + " was not found.",
			resolution: "Place a valid resource at the URI or correct the URI and resubmit the request.",
		})
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

// authorized reports whether r carries the configured basic-auth
// credentials. Both are compared in constant time.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) == 1
	return userOK && passOK
}
