package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// AlertmanagerPath is the route of the Alertmanager webhook receiver. It authenticates with
// AlertOptions.Token, not with the API token.
const AlertmanagerPath = "/v1/alerts/alertmanager"

// maxAlertBody bounds an Alertmanager webhook body.
const maxAlertBody = 1 << 20

// alertmanagerVersion is the only webhook payload version the receiver understands.
const alertmanagerVersion = "4"

// Alert severities, as AlertObservation.Severity carries them.
const (
	// SeverityWarning is any alert whose severity label is not critical.
	SeverityWarning = "warning"
	// SeverityCritical is an alert whose severity label is critical (in any case).
	SeverityCritical = "critical"
)

// AlertOptions configure the Alertmanager webhook receiver (POST /v1/alerts/alertmanager).
type AlertOptions struct {
	// Token is the bearer token Alertmanager must send (its webhook_config's
	// http_config.authorization). It is required, and the API token does not open the route.
	Token string
	// HostLabel is the alert label naming the host; "" means "instance".
	HostLabel string
	// SeverityLabel is the label whose value "critical" (in any case) makes an alert critical;
	// any other value is a warning. "" means "severity".
	SeverityLabel string
	// Hosts maps host label values (as they are, or without a ":port" suffix) to host names,
	// for hosts whose label value is not their name.
	Hosts map[string]string
	// Known are the configured host names: a label value that Hosts does not map names its host
	// when, without a ":port" suffix, it equals one of them.
	Known []string
}

// alertReceiver validates Alertmanager webhooks and maps them to observations.
type alertReceiver struct {
	rc            AlertReceiver
	hostLabel     string
	severityLabel string
	hosts         map[string]string
	known         map[string]bool
}

// newAlertReceiver checks opts and returns the receiver with its defaults filled in.
func newAlertReceiver(rc AlertReceiver, opts AlertOptions) (*alertReceiver, error) {
	a := &alertReceiver{
		rc:            rc,
		hostLabel:     opts.HostLabel,
		severityLabel: opts.SeverityLabel,
		hosts:         make(map[string]string, len(opts.Hosts)),
		known:         make(map[string]bool, len(opts.Known)),
	}
	if a.hostLabel == "" {
		a.hostLabel = "instance"
	}
	if a.severityLabel == "" {
		a.severityLabel = "severity"
	}
	for _, h := range opts.Known {
		a.known[h] = true
	}
	for v, h := range opts.Hosts {
		if len(a.known) > 0 && !a.known[h] {
			return nil, fmt.Errorf("alert hosts: %s=%q maps to %q, which is not a configured host", a.hostLabel, v, h)
		}
		a.hosts[v] = h
	}
	return a, nil
}

// registerAlerts adds the Alertmanager receiver route and its token.
func (s *server) registerAlerts(b Backend, opts AlertOptions) error {
	if opts.Token == "" {
		return errors.New("the Alertmanager receiver needs a token (alerts.alertmanager.token_file): it does not accept the API token")
	}
	if err := checkToken(opts.Token); err != nil {
		return fmt.Errorf("alert token: %w", err)
	}
	rc, ok := b.(AlertReceiver)
	if !ok {
		return errors.New("the Alertmanager receiver is configured but the backend does not take alerts")
	}
	a, err := newAlertReceiver(rc, opts)
	if err != nil {
		return err
	}
	s.alertAuth = newTokenAuth(opts.Token)
	s.mux.HandleFunc("POST "+AlertmanagerPath, func(w http.ResponseWriter, r *http.Request) {
		s.handleAlertmanager(w, r, a)
	})
	return nil
}

// checkAlertToken answers 401 and returns false when r lacks the alert receiver's token.
func (s *server) checkAlertToken(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := s.alertAuth.check(r); ok {
		return true
	}
	msg := "invalid bearer token for the Alertmanager receiver: want the one in lifeboat's alerts.alertmanager.token_file (the API token does not open this route)"
	if r.Header.Get("Authorization") == "" {
		msg = "missing bearer token: Alertmanager must send Authorization: Bearer TOKEN (http_config.authorization.credentials_file in its webhook_config), with the token in lifeboat's alerts.alertmanager.token_file"
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="lifeboat-alerts"`)
	writeError(w, http.StatusUnauthorized, CodeUnauthorized, msg)
	return false
}

// amPayload is an Alertmanager webhook body (version 4).
type amPayload struct {
	Version         string            `json:"version"`
	GroupKey        string            `json:"groupKey"`
	TruncatedAlerts int               `json:"truncatedAlerts"`
	Status          string            `json:"status"`
	Receiver        string            `json:"receiver"`
	GroupLabels     map[string]string `json:"groupLabels"`
	CommonLabels    map[string]string `json:"commonLabels"`
	ExternalURL     string            `json:"externalURL"`
	Alerts          []amAlert         `json:"alerts"`
}

// amAlert is one alert of an Alertmanager webhook.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// handleAlertmanager serves POST /v1/alerts/alertmanager: it validates every alert, then hands
// the ones that name a known host to the backend. A payload with any bad alert changes nothing.
func (s *server) handleAlertmanager(w http.ResponseWriter, r *http.Request, a *alertReceiver) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, CodeBadRequest,
				fmt.Sprintf("Content-Type %q: the Alertmanager receiver takes application/json", ct))
			return
		}
	}
	p, ok := decodeAlertmanager(w, r)
	if !ok {
		return
	}
	if problems := a.validate(p); len(problems) > 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			"Alertmanager payload rejected, nothing applied: "+strings.Join(problems, "; "))
		return
	}
	obs, ignored := a.mapAlerts(p.Alerts)
	for _, msg := range ignored {
		s.log.Warn("api: alert ignored", "reason", msg)
	}
	if p.TruncatedAlerts > 0 {
		s.log.Warn("api: Alertmanager truncated a notification (max_alerts)", "truncated", p.TruncatedAlerts, "group", p.GroupKey)
	}
	if len(obs) > 0 {
		if err := a.rc.ReceiveAlerts(r.Context(), obs); err != nil {
			s.backendError(w, r, "receive alerts", err)
			return
		}
	}
	s.log.Debug("api: alerts received", "group", p.GroupKey, "applied", len(obs), "ignored", len(ignored))
	s.writeJSON(w, r, AlertResult{Applied: len(obs), Ignored: ignored})
}

// decodeAlertmanager reads a webhook body of at most maxAlertBody bytes.
func decodeAlertmanager(w http.ResponseWriter, r *http.Request) (amPayload, bool) {
	var p amPayload
	body := http.MaxBytesReader(w, r.Body, maxAlertBody)
	b, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest,
				fmt.Sprintf("Alertmanager payload is larger than %d bytes: lower max_alerts in the webhook_config", maxAlertBody))
			return p, false
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "request body: "+err.Error())
		return p, false
	}
	if err := json.Unmarshal(b, &p); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "Alertmanager payload is not valid JSON of the webhook format: "+err.Error())
		return p, false
	}
	return p, true
}

// validate returns every problem of p, each naming the alert it is about.
func (a *alertReceiver) validate(p amPayload) []string {
	if p.Version != alertmanagerVersion {
		return []string{fmt.Sprintf("webhook version %q: want %q (Alertmanager 0.x sends version 4)", p.Version, alertmanagerVersion)}
	}
	if len(p.Alerts) == 0 {
		return []string{"the payload holds no alerts"}
	}
	var problems []string
	for i, al := range p.Alerts {
		if al.Status != "firing" && al.Status != "resolved" {
			problems = append(problems, fmt.Sprintf("alert %d (%s): status %q: want firing or resolved", i, alertName(al), al.Status))
		}
	}
	return problems
}

// mapAlerts turns valid alerts into observations of known hosts, and says why it ignored the
// others.
func (a *alertReceiver) mapAlerts(alerts []amAlert) ([]AlertObservation, []string) {
	var obs []AlertObservation
	var ignored []string
	for _, al := range alerts {
		value := al.Labels[a.hostLabel]
		if value == "" {
			// Not an error of the payload: Alertmanager does not retry a refused notification,
			// and the group's other alerts must still count.
			ignored = append(ignored, fmt.Sprintf("alert %s has no %q label: lifeboat needs it to know the host (or set alerts.alertmanager.host_label)",
				alertName(al), a.hostLabel))
			continue
		}
		host, ok := a.host(value)
		if !ok {
			ignored = append(ignored, fmt.Sprintf("alert %s: %s=%s matches no host; map it under alerts.alertmanager.hosts",
				alertName(al), a.hostLabel, SanitizeText(value, MaxNameLen)))
			continue
		}
		sev := SeverityWarning
		if strings.EqualFold(al.Labels[a.severityLabel], SeverityCritical) {
			sev = SeverityCritical
		}
		fp := al.Fingerprint
		if fp == "" || CheckText("fingerprint", fp, 64) != nil {
			fp = labelsDigest(al.Labels)
		}
		obs = append(obs, AlertObservation{
			Host:        host,
			Fingerprint: fp,
			Name:        SanitizeText(al.Labels["alertname"], MaxAlertTextLen),
			Firing:      al.Status == "firing",
			Severity:    sev,
			Summary:     SanitizeText(alertSummary(al), MaxAlertTextLen),
			StartsAt:    al.StartsAt,
		})
	}
	return obs, ignored
}

// host maps a host label value to a host: Hosts as it is, then without a ":port" suffix, then
// a known host name equal to the value without its port.
func (a *alertReceiver) host(value string) (string, bool) {
	if h, ok := a.hosts[value]; ok {
		return h, true
	}
	bare := stripPort(value)
	if h, ok := a.hosts[bare]; ok {
		return h, true
	}
	if a.known[bare] {
		return bare, true
	}
	return "", false
}

// stripPort removes a trailing ":port" (digits) and the brackets of an IPv6 literal.
func stripPort(v string) string {
	if i := strings.LastIndexByte(v, ':'); i >= 0 && i < len(v)-1 && isDigits(v[i+1:]) {
		host := v[:i]
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			return host[1 : len(host)-1]
		}
		if !strings.Contains(host, ":") { // a bare IPv6 address has no port to strip
			return host
		}
	}
	return v
}

// isDigits reports whether s is all ASCII digits.
func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// alertName is the alertname label, for messages.
func alertName(al amAlert) string {
	if n := SanitizeText(al.Labels["alertname"], MaxAlertTextLen); n != "" {
		return n
	}
	return "no alertname"
}

// alertSummary is the summary annotation, else the description, else the alert's name.
func alertSummary(al amAlert) string {
	for _, k := range []string{"summary", "description"} {
		if v := strings.TrimSpace(al.Annotations[k]); v != "" {
			return v
		}
	}
	return alertName(al)
}

// labelsDigest identifies an alert without a fingerprint: the first 16 hex digits of the SHA-256
// of its sorted labels.
func labelsDigest(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
