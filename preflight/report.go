package preflight

// Check is one line of the preflight report.
type Check struct {
	// Name is the check's kind: libvirt, migration, leases, bmc, fence, secret-file or capacity.
	Name string `json:"name"`
	// Host is the host (or "A->B" pair) the check is about; empty for cluster-wide checks.
	Host string `json:"host"`
	OK   bool   `json:"ok"`
	// Detail says what was found; Hint, for a failed check, what to do about it.
	Detail string `json:"detail"`
	Hint   string `json:"hint"`
}

// Check names.
const (
	CheckLibvirt    = "libvirt"
	CheckMigration  = "migration"
	CheckLeases     = "leases"
	CheckBMC        = "bmc"
	CheckFence      = "fence"
	CheckSecretFile = "secret-file"
	CheckCapacity   = "capacity"
)

// Report is every check, in order, and whether they all passed.
type Report struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

func (r *Report) add(c Check) {
	if !c.OK && c.Hint == "" {
		c.Hint = "-"
	}
	if c.OK {
		c.Hint = ""
	}
	r.Checks = append(r.Checks, c)
}
