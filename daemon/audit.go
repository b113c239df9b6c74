package daemon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/store"
)

// Audit journals an API call that changed something or tried to (api.Auditor): who, with
// which role, from where, what, and the result, with the details as the entry's data.
func (d *Daemon) Audit(ctx context.Context, rec api.AuditRecord) {
	data, err := json.Marshal(rec)
	if err != nil {
		d.log.Error("audit record not encoded", "err", err)
	}
	d.journal(ctx, store.Entry{Kind: "audit", Reason: auditReason(rec.Status), Data: data,
		Message: fmt.Sprintf("%s %s by %s: %s", rec.Method, rec.Path, rec.Who(), rec.Result())})
}

// auditReason is the entry's reason code for an HTTP status.
func auditReason(status int) string {
	switch {
	case status == 401:
		return "unauthenticated"
	case status == 403:
		return "forbidden"
	case status >= 400:
		return "failed"
	default:
		return "ok"
	}
}
