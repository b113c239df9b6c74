package policy

import (
	"testing"
	"time"
)

func TestZZDbg(t *testing.T) {
	cfg, hosts, vms := benchCluster(10000, 200000)
	st := time.Now()
	p := newPlanner(cfg, hosts, vms)
	t.Logf("newPlanner %v", time.Since(st))
	st = time.Now()
	p.buildTree()
	t.Logf("buildTree %v", time.Since(st))
	var tCtx, tBest, tCons, tOut time.Duration
	for i := range vms {
		t0 := time.Now()
		x := p.context(&vms[i], p.rules.of[vms[i].Name])
		t1 := time.Now()
		top, n := p.best(&x)
		t2 := time.Now()
		if n > 0 {
			p.consume(top[0].rank, &x)
		}
		t3 := time.Now()
		if n > 0 {
			_ = top[0].s.score("x")
			_ = p.successReasonParts(&x, top[0].rank, top[0].s, top[1].rank, top[1].s, -1)
		}
		t4 := time.Now()
		tCtx += t1.Sub(t0)
		tBest += t2.Sub(t1)
		tCons += t3.Sub(t2)
		tOut += t4.Sub(t3)
	}
	t.Logf("ctx %v best %v consume %v out %v", tCtx, tBest, tCons, tOut)
}
