package guest

// Status is the agent's reply to "status", decoded from its one-line JSON object.
type Status struct {
	// Name is the guest's name, from lb.name= on its kernel command line (or its hostname).
	Name string `json:"name"`
	// UptimeSeconds is the guest kernel's uptime; it drops when the guest reboots or is restarted.
	UptimeSeconds float64 `json:"uptime_s"`
	// DirtyRateMiBs is the requested dirtying rate in MiB/s; 0 while dirtying means unlimited.
	DirtyRateMiBs int `json:"dirty_rate_mib_s"`
	// DirtySizeMiB is the size of the buffer being dirtied; 0 when not dirtying.
	DirtySizeMiB int `json:"dirty_size_mib"`
	// DirtiedMiBTotal counts the MiB dirtied (4 KiB pages written) since the agent started.
	DirtiedMiBTotal float64 `json:"dirtied_mib_total"`
	// MeasuredRateMiBs is the rate actually achieved over the last completed second.
	MeasuredRateMiBs float64 `json:"measured_rate_mib_s"`
	// Dirtying reports whether a dirtying job is running.
	Dirtying bool `json:"dirtying"`
}
