package config

import "time"

// DefaultJournalMaxEntries is the default bound of the journal (store.journal_max_entries); an
// entry is a few hundred bytes of JSON.
const DefaultJournalMaxEntries = 100000

// Default returns the configuration before any file or flag is applied.
func Default() Config {
	return Config{
		Cluster:    "default",
		Protection: Protection{Default: "all"},
		Timings: Timings{
			ProbeInterval:     Duration(500 * time.Millisecond),
			ProbeTimeout:      Duration(1 * time.Second),
			SuspectAfter:      Duration(1 * time.Second),
			UnreachableAfter:  Duration(3 * time.Second),
			StableFor:         Duration(30 * time.Second),
			BMCInterval:       Duration(time.Second),
			BMCTimeout:        Duration(2 * time.Second),
			BMCHealthInterval: Duration(30 * time.Second),
			InventoryInterval: Duration(5 * time.Second),
		},
		Migration: Migration{PerHostOut: 2, PerHostIn: 2, Cluster: 8, StallSamples: 4, MaxDuration: Duration(5 * time.Minute),
			Downtimes: []Duration{Duration(300 * time.Millisecond), Duration(500 * time.Millisecond), Duration(time.Second), Duration(2 * time.Second)}},
		Placement: Placement{MemoryOvercommit: 1.0, CPUOvercommit: 4.0},
		Recovery: Recovery{Automatic: true, MassFailureFraction: 0.34, MassFailureWindow: Duration(10 * time.Second), FenceWindow: Duration(10 * time.Minute),
			FenceTimeout: Duration(20 * time.Second), RestartConcurrency: 4, PartitionPolicy: PartitionWaitForGuests,
			GuestMonitoring: GuestMonitoring{Enabled: true, MaxResets: 3, ResetWindow: Duration(time.Hour)}},
		Health: Health{DegradeScore: 100, ClearScore: 50, ClearAfter: Duration(time.Minute), EventTTL: Duration(10 * time.Minute),
			RPCLatency: Duration(500 * time.Millisecond), MemoryAvailable: 0.03},
		Failback: Failback{Enabled: true, StableFor: Duration(5 * time.Minute), WaveSize: 2, WaveInterval: Duration(30 * time.Second)},
		Approval: Approval{Mode: ApprovalAutomatic, TTL: Duration(30 * time.Minute)},
		Store: Store{Backend: StoreBbolt, Path: "/var/lib/lifeboat/lifeboat.db", JournalMaxEntries: DefaultJournalMaxEntries,
			Etcd: Etcd{Prefix: "/lifeboat/", DialTimeout: Duration(5 * time.Second), SessionTTL: Duration(5 * time.Second)}},
		API:    API{Listen: "127.0.0.1:7400"},
		Alerts: Alerts{Alertmanager: Alertmanager{ExpireAfter: Duration(DefaultAlertExpireAfter)}},
	}
}
