// Package api is lifeboat's HTTP API: the wire types, the server the daemon mounts over its
// Backend, and the Go client the CLI uses. The CLI talks to the daemon only through this package.
//
// Routes (every /v1 route needs "Authorization: Bearer TOKEN" when the server has a token):
//
//	GET /v1/status                    StatusView
//	GET /v1/hosts                     []HostView
//	GET /v1/vms                       []VMView
//	GET /v1/hosts/{name}/explain      Explanation
//	GET /v1/events?after=N&limit=M    []Event with Seq > N, oldest first, at most M
//	GET /v1/events?after=N&follow=true  NDJSON stream of Event, one a line, until the client goes away
//	GET /v1/plans                     []PlanView (approval mode), pending first
//	GET /v1/plans/{id}                PlanView
//	POST /v1/plans/{id}/approve       PlanDecision → PlanView
//	POST /v1/plans/{id}/reject        PlanDecision (reason required) → PlanView
//	POST /v1/alerts/alertmanager      Alertmanager webhook (version 4) → AlertResult; its own token
//	POST /v1/bmc-events/{host}        a Redfish Event a BMC pushes → 204; no token: its Context is the secret
//	GET /metrics                      Prometheus metrics (when the server has a Gatherer)
//	GET /healthz                      200 "ok" while serving
//	GET /readyz                       200 when Backend.Ready is nil, else 503 with the reason
//
// Errors are JSON objects {"error": "...", "code": "..."} with the codes CodeNotFound,
// CodeBadRequest, CodeUnauthorized and CodeInternal; the client returns them as *Error.
package api
