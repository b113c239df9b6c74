package policy

import "testing"

func TestZZDbg(t *testing.T) {
	cfg, hosts, vms := benchCluster(10000, 200000)
	dbgVisits, dbgSearches, dbgLeaves = 0, 0, 0
	PlanPlacements(cfg, hosts, vms)
	t.Logf("visits/search %.1f leaves/search %.1f hist %v", float64(dbgVisits)/float64(dbgSearches), float64(dbgLeaves)/float64(dbgSearches), dbgHist)
}
