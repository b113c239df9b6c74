package testenv

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
)

// The lab's etcd cluster (Options.Etcd members). Each member is Debian's etcd-server binary in a
// network namespace of its own, <lab>-etcdN, linked to the management bridge like a host: a
// management node of its own, at 10.201.N.(200+i), serving clients on :2379 and peers on :2380.
// Its data lives in DIR/etcd/etcdN. Members run as children of the lab process and are stopped
// by pid; a teardown after a crash kills whatever runs in their namespaces.

// etcdClientPort and etcdPeerPort are etcd's usual ports; each member has its own namespace.
const (
	etcdClientPort = 2379
	etcdPeerPort   = 2380
)

// etcdState is one etcd member of the lab.
type etcdState struct {
	Name        string `json:"name"`
	NetNS       string `json:"netns"`
	Veth        string `json:"veth"`
	Address     string `json:"address"`
	ClientURL   string `json:"client_url"`
	Dir         string `json:"dir"`
	Running     bool   `json:"running"`
	Partitioned bool   `json:"partitioned"`
}

func etcdAddr(subnet, i int) string { return fmt.Sprintf("%s.%d.%d", mgmtNet, subnet, 200+i) }

// startEtcd makes each member's namespace and link, then starts the members and waits until the
// cluster is healthy.
func (l *Lab) startEtcd(ctx context.Context) error {
	st := l.st
	if l.opts.Etcd == 0 {
		return nil
	}
	if err := etcdtest.Available(); err != nil {
		return fmt.Errorf("testenv: Options.Etcd %d: %w", l.opts.Etcd, err)
	}
	for i := 1; i <= l.opts.Etcd; i++ {
		name := fmt.Sprintf("etcd%d", i)
		addr := etcdAddr(st.Subnet, i)
		st.Etcd = append(st.Etcd, etcdState{Name: name, NetNS: st.Name + "-" + name, Veth: fmt.Sprintf("%s-e%d", st.Name, i),
			Address: addr, ClientURL: fmt.Sprintf("http://%s:%d", addr, etcdClientPort), Dir: filepath.Join(st.Dir, "etcd", name)})
	}
	if err := st.save(); err != nil {
		return err
	}
	var specs []etcdtest.Spec
	for i := range st.Etcd {
		e := &st.Etcd[i]
		if err := setupEtcdNet(ctx, st, e); err != nil {
			return err
		}
		specs = append(specs, etcdtest.Spec{Name: e.Name, Dir: e.Dir, ClientHost: e.Address, ClientPort: etcdClientPort,
			PeerPort: etcdPeerPort, Wrap: []string{"ip", "netns", "exec", e.NetNS}})
	}
	ms, err := etcdtest.NewCluster(specs)
	if err != nil {
		return fmt.Errorf("testenv: etcd: %w", err)
	}
	for i, m := range ms {
		l.etcd[st.Etcd[i].Name] = m
		if err := m.Start(); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
		st.Etcd[i].Running = true
	}
	if err := st.save(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, m := range ms {
		if err := m.WaitHealthy(wctx); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
	}
	return nil
}

// setupEtcdNet creates a member's namespace and its link into the management bridge.
func setupEtcdNet(ctx context.Context, s *labState, e *etcdState) error {
	ns := e.NetNS
	steps := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"link", "add", e.Veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", e.Veth, "master", s.MgmtBridge, "up"},
		{"-n", ns, "addr", "add", e.Address + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	}
	for _, st := range steps {
		if err := ipCmd(ctx, st...); err != nil {
			return fmt.Errorf("testenv: network of %s: %w", e.Name, err)
		}
	}
	return nil
}

// teardownEtcd kills every process in the members' namespaces and removes the namespaces and
// links. The data directories go with the lab's files.
func teardownEtcd(ctx context.Context, st *labState) []error {
	var errs []error
	for i := range st.Etcd {
		e := &st.Etcd[i]
		if netnsExists(e.NetNS) {
			if err := killHost(ctx, &hostState{Name: e.Name, NetNS: e.NetNS}); err != nil {
				errs = append(errs, err)
			}
			if err := ipCmd(ctx, "netns", "del", e.NetNS); err != nil {
				errs = append(errs, err)
			}
		}
		if e.Veth != "" && linkExists(e.Veth) {
			if err := ipCmd(ctx, "link", "del", e.Veth); err != nil && linkExists(e.Veth) {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// EtcdMember describes one etcd member of the lab.
type EtcdMember struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	ClientURL string `json:"client_url"`
	NetNS     string `json:"netns"`
	// PID is the member's process id (0 when killed).
	PID int `json:"pid"`
	// Running: the member's process runs (not killed by a fault).
	Running     bool `json:"running"`
	Partitioned bool `json:"partitioned"`
}

// EtcdEndpoints are the client URLs of the lab's etcd members (none without Options.Etcd).
func (l *Lab) EtcdEndpoints() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.st.Etcd {
		out = append(out, e.ClientURL)
	}
	return out
}

// EtcdMembers lists the lab's etcd members in order.
func (l *Lab) EtcdMembers() []EtcdMember {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]EtcdMember, 0, len(l.st.Etcd))
	for _, e := range l.st.Etcd {
		m := EtcdMember{Name: e.Name, Address: e.Address, ClientURL: e.ClientURL, NetNS: e.NetNS, Running: e.Running, Partitioned: e.Partitioned}
		if em := l.etcd[e.Name]; em != nil {
			m.PID = em.Pid()
		}
		out = append(out, m)
	}
	return out
}

// ErrNotEtcd means an etcd fault (kill, start) aimed at something that is not an etcd member.
var ErrNotEtcd = errors.New("not an etcd member")

// etcdMember returns the named etcd member, or nil.
func (s *labState) etcdMember(name string) *etcdState {
	for i := range s.Etcd {
		if s.Etcd[i].Name == name {
			return &s.Etcd[i]
		}
	}
	return nil
}

// etcdFault injects a fault into an etcd member: kill (SIGKILL by pid; its data stays), start
// (the same member on the same data), partition (its management link goes down: neither peers
// nor clients reach it) and heal.
func (l *Lab) etcdFault(ctx context.Context, name string, kind FaultKind) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return errors.New("testenv: the lab is stopped")
	}
	e := l.st.etcdMember(name)
	m := l.etcd[name]
	if e == nil || m == nil {
		return fmt.Errorf("%w: %q", ErrUnknownHost, name)
	}
	switch kind {
	case FaultKill:
		if err := m.Kill(); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
		e.Running = false
	case FaultStart:
		if m.Pid() == 0 {
			if err := m.Start(); err != nil {
				return fmt.Errorf("testenv: %w", err)
			}
		}
		e.Running = true
	case FaultPartition, FaultHeal:
		up := kind == FaultHeal
		state := map[bool]string{true: "up", false: "down"}[up]
		if err := ipCmd(ctx, "link", "set", e.Veth, state); err != nil {
			return fmt.Errorf("testenv: management link of %s %s: %w", name, state, err)
		}
		e.Partitioned = !up
	default:
		return fmt.Errorf("testenv: fault %s does not apply to etcd member %s (want kill, start, partition or heal)", kind, name)
	}
	return l.st.save()
}

// KillEtcd kills an etcd member (SIGKILL, by pid); its data directory stays for StartEtcd.
func (l *Lab) KillEtcd(ctx context.Context, name string) error {
	return l.etcdFault(ctx, name, FaultKill)
}

// StartEtcd starts a killed etcd member again on its data.
func (l *Lab) StartEtcd(ctx context.Context, name string) error {
	return l.etcdFault(ctx, name, FaultStart)
}

// PartitionEtcd cuts an etcd member's management link: peers and clients no longer reach it.
func (l *Lab) PartitionEtcd(ctx context.Context, name string) error {
	return l.etcdFault(ctx, name, FaultPartition)
}

// HealEtcd restores an etcd member's management link.
func (l *Lab) HealEtcd(ctx context.Context, name string) error {
	return l.etcdFault(ctx, name, FaultHeal)
}

// EtcdNames lists the etcd members of the lab in dir, for checking a name before asking the lab
// process.
func EtcdNames(dir string) ([]string, error) {
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(st.Etcd))
	for _, e := range st.Etcd {
		names = append(names, e.Name)
	}
	return names, nil
}

// stopEtcd kills the members this process started, by pid.
func (l *Lab) stopEtcd() []error {
	var errs []error
	for _, m := range l.etcd {
		if err := m.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
