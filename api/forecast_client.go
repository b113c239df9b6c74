package api

import "context"

// WhatIf asks the daemon what recovery would do if the named hosts lost power now. Nothing
// changes. Unknown hosts are an *Error matching ErrBadRequest that names them.
func (c *Client) WhatIf(ctx context.Context, fail []string) (WhatIfResult, error) {
	var res WhatIfResult
	err := c.post(ctx, "/v1/whatif", nil, WhatIfRequest{Fail: fail}, &res)
	return res, err
}

// Capacity asks the daemon how many host failures the cluster absorbs with every protected VM
// restarted.
func (c *Client) Capacity(ctx context.Context) (CapacityView, error) {
	var v CapacityView
	err := c.getJSON(ctx, "/v1/capacity", nil, &v)
	return v, err
}
