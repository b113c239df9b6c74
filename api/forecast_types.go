package api

import (
	"context"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// WhatIfRequest names the hosts to imagine failed (powered off) now.
type WhatIfRequest struct {
	Fail []string `json:"fail"`
}

// WhatIfResult is what recovery would do if the hosts failed now (policy.WhatIfResult): fences,
// restarts, stuck VMs, a freeze, and what would be held back.
type WhatIfResult = policy.WhatIfResult

// CapacityView is how many host failures the cluster absorbs (policy.Capacity).
type CapacityView = policy.Capacity

// Forecaster is implemented by a backend that answers what-if questions: POST /v1/whatif and
// GET /v1/capacity. Neither changes anything.
type Forecaster interface {
	// WhatIf says what recovery would do if the named hosts lost power now. Unknown hosts
	// wrap ErrBadRequest, naming them.
	WhatIf(ctx context.Context, fail []string) (WhatIfResult, error)
	// Capacity says how many host failures the cluster absorbs with every protected VM
	// restarted.
	Capacity(ctx context.Context) (CapacityView, error)
}

// MaxWhatIfHosts bounds the hosts of one what-if question.
const MaxWhatIfHosts = 1000
