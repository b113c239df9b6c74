package sim

import "github.com/lifeboat-ha/lifeboat/policy"

// applyPartitionPolicy sets the detector's partition policy (recovery.partition_policy:
// wait-for-guests, the default, or fence).
func applyPartitionPolicy(det *policy.DetectorConfig, p string) {
	if p == "" {
		p = string(policy.PartitionWaitForGuests)
	}
	det.PartitionPolicy = policy.PartitionPolicy(p)
}
