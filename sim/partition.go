package sim

import "github.com/lifeboat-ha/lifeboat/policy"

// applyPartitionPolicy sets the detector's partition policy (recovery.partition_policy:
// wait-for-guests or fence).
func applyPartitionPolicy(_ *policy.DetectorConfig, _ string) {
	// The detector rule for partitioned hosts is not on this branch yet: every partition is
	// fenced. Set DetectorConfig.PartitionPolicy here once it lands.
}
