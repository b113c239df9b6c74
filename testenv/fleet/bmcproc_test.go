package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// TestBMCProcess: three hosts' BMC emulators in a child process (this test binary run again)
// answer a real Redfish client over HTTPS with the pinned certificate; CutPower makes a BMC
// say off (and the host's probe time out), RestorePower on; a Redfish ForceOff through the
// child cuts the simulated host's power here before the BMC reports off; Close leaves no
// process.
func TestBMCProcess(t *testing.T) {
	ctx := t.Context()
	f := New(2)
	names := []string{"h1", "h2", "h3"}
	p, err := f.StartBMCProcess(ctx, names, ProcessOptions{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	t.Cleanup(func() {
		_ = f.Close()
		_ = syscall.Kill(pid, syscall.SIGKILL) // only if Close failed to; it fails the test below
	})
	if pid == os.Getpid() {
		t.Fatal("the BMCs run in this process")
	}
	if u, err := p.Usage(); err != nil || u.RSSKiB <= 0 {
		t.Errorf("the child's usage: %+v, %v", u, err)
	}
	client := func(name string) *redfish.Client {
		c, err := redfish.New(p.URL(name), name, redfish.Credentials{Username: "u", Password: "p"},
			redfish.Trust{PinnedSHA256: p.Fingerprint()}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.WithoutCancel(ctx)) })
		return c
	}
	power := func(c *redfish.Client) string {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Power
	}
	cs := map[string]*redfish.Client{}
	for _, name := range names {
		cs[name] = client(name)
		if pw := power(cs[name]); pw != "on" {
			t.Errorf("%s at start: power %q, want on", name, pw)
		}
	}
	h1, err := f.Dial(ctx, "h1", "", hypervisor.Options{ProbeTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if h1 != hypervisor.Host(f.Host("h1")) {
		t.Fatal("Dial made a new host instead of the one with the BMC")
	}

	if err := f.CutPower("h1"); err != nil {
		t.Fatal(err)
	}
	if pw, pr := power(cs["h1"]), h1.Probe(ctx); pw != "off" || pr.Outcome != hypervisor.ProbeTimeout {
		t.Errorf("after CutPower: power %q, probe %s; want off, a timeout", pw, pr.Outcome)
	}
	if pw := power(cs["h2"]); pw != "on" {
		t.Errorf("h2 after h1's CutPower: power %q, want on", pw)
	}
	if err := f.RestorePower("h1"); err != nil {
		t.Fatal(err)
	}
	if pw, pr := power(cs["h1"]), h1.Probe(ctx); pw != "on" || pr.Outcome != hypervisor.ProbeOK {
		t.Errorf("after RestorePower: power %q, probe %s; want on, ok", pw, pr.Outcome)
	}

	// A fence through Redfish: the simulated host has lost its power when ForceOff returns.
	h2, _ := f.Dial(ctx, "h2", "", hypervisor.Options{ProbeTimeout: 50 * time.Millisecond})
	if err := cs["h2"].ForceOff(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Host("h2").Powered() {
		t.Error("h2 has power after a Redfish ForceOff")
	}
	if pw, pr := power(cs["h2"]), h2.Probe(ctx); pw != "off" || pr.Outcome != hypervisor.ProbeTimeout {
		t.Errorf("after ForceOff: power %q, probe %s; want off, a timeout", pw, pr.Outcome)
	}
	if doms, err := h2.Domains(ctx); !errors.Is(err, hypervisor.ErrNotConnected) {
		t.Errorf("domains of a fenced host: %+v, %v; want ErrNotConnected", doms, err)
	}
	if err := f.RestorePower("h2"); err != nil {
		t.Fatal(err)
	}
	if pw := power(cs["h2"]); pw != "on" || !f.Host("h2").Powered() {
		t.Errorf("after RestorePower of the fenced host: power %q, powered %v", pw, f.Host("h2").Powered())
	}
	if _, err := f.StartBMCProcess(ctx, []string{"h3"}, ProcessOptions{Username: "u", Password: "p"}); err == nil {
		t.Error("a second BMC for h3 started")
	}

	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the BMC process %d after Close: kill -0 says %v, want ESRCH (no such process)", pid, err)
	}
	if err := f.CutPower("h1"); err != nil {
		t.Errorf("CutPower after Close, without a BMC: %v", err)
	}
}

// TestBMCProcessWithoutHook: a child that does not serve (here /bin/true) fails the start with
// an error that says what is missing, and leaves no process.
func TestBMCProcessWithoutHook(t *testing.T) {
	f := New(1)
	_, err := f.StartBMCProcess(t.Context(), []string{"h1"}, ProcessOptions{Username: "u", Password: "p", Command: []string{"/bin/true"}})
	if err == nil || !strings.Contains(err.Error(), "RunChildIfAsked") {
		t.Fatalf("start of a child that does not serve: %v, want an error naming RunChildIfAsked", err)
	}
	if f.process("h1") != nil {
		t.Error("the failed process is registered")
	}
}

// TestServeBMCsBadLines: ServeBMCs, run here on pipes, answers each bad line of the parent with
// an error that names the line, and serves on.
func TestServeBMCsBadLines(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeBMCs(t.Context(), []string{"h1"}, BMCOptions{Username: "u", Password: "p"}, inR, outW)
	}()
	lines := bufio.NewScanner(outR)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("ServeBMCs wrote no more lines: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); !strings.HasPrefix(l, "bmc h1 https://127.0.0.1:") {
		t.Errorf("first line %q, want bmc h1 https://127.0.0.1:PORT", l)
	}
	if l := next(); !strings.HasPrefix(l, "ready ") {
		t.Errorf("second line %q, want ready SHA256", l)
	}
	for _, c := range []struct{ in, want string }{
		{"jump h1", `line 1 "jump h1": unknown verb "jump"`},
		{"cut", `line 2 "cut": 0 words after "cut", want 1`},
		{"cut nope", `line 3 "cut nope": no BMC of a host "nope"`},
		{"done off h1", `line 4 "done off h1": no off of h1 waits`},
		{"done jump h1", `line 5 "done jump h1": done "jump"`},
		{"cut h1", "done cut h1"},
		{"restore h1", "done restore h1"},
	} {
		if _, err := io.WriteString(inW, c.in+"\n"); err != nil {
			t.Fatal(err)
		}
		if l := next(); !strings.Contains(l, c.want) {
			t.Errorf("answer to %q: %q, want it to contain %q", c.in, l, c.want)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeBMCs after its input ended: %v", err)
	}
}

// TestParseLine covers the parent's side of the protocol: bad lines of the child are errors
// naming the line.
func TestParseLine(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	for _, c := range []struct {
		line    string
		allowed []verb
		want    message
		err     string
	}{
		{line: "bmc h1 https://127.0.0.1:4430", allowed: []verb{verbBMC}, want: message{verb: verbBMC, name: "h1", url: "https://127.0.0.1:4430"}},
		{line: "bmc h1 http://127.0.0.1:4430", allowed: []verb{verbBMC}, err: `line 7 "bmc h1 http://127.0.0.1:4430": URL "http://127.0.0.1:4430" is not an https:// address`},
		{line: "ready " + fp, allowed: []verb{verbReady}, want: message{verb: verbReady, text: fp}},
		{line: "ready abc", allowed: []verb{verbReady}, err: `fingerprint "abc" is not a hex SHA-256`},
		{line: "off h2", allowed: []verb{verbOff, verbOn}, want: message{verb: verbOff, name: "h2"}},
		{line: "off  h2", allowed: []verb{verbOff}, err: `2 words after "off", want 1`},
		{line: "done cut h2", allowed: []verb{verbDone}, want: message{verb: verbDone, of: verbCut, name: "h2"}},
		{line: "error line 3: bad", allowed: []verb{verbError}, want: message{verb: verbError, text: "line 3: bad"}},
		{line: "error", allowed: []verb{verbError}, err: "an error without a message"},
		{line: "ready " + fp, allowed: []verb{verbDone, verbError}, err: `unknown verb "ready", want one of done, error`},
	} {
		m, err := parseLine(7, c.line, c.allowed...)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrProtocol)):
			t.Errorf("%q: %v, want an ErrProtocol containing %q", c.line, err, c.err)
		case c.err == "" && (err != nil || m != c.want):
			t.Errorf("%q: %+v, %v; want %+v", c.line, m, err, c.want)
		case c.err == "" && m.String() != c.line:
			t.Errorf("%q prints as %q", c.line, m.String())
		}
	}
}

// TestParseStat reads the CPU time and RSS of /proc files, including a command name with
// spaces and parentheses, and of this process.
func TestParseStat(t *testing.T) {
	cpu, err := parseStatCPU("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0")
	if err != nil || cpu != 3*time.Second {
		t.Errorf("parseStatCPU: %s, %v; want 3s (250+50 ticks)", cpu, err)
	}
	if _, err := parseStatCPU("42 (a) S 1 2"); err == nil {
		t.Error("a short stat line parsed")
	}
	if rss, err := parseStatusRSS("Name:\tx\nVmRSS:\t  1234 kB\n"); err != nil || rss != 1234 {
		t.Errorf("parseStatusRSS: %d, %v", rss, err)
	}
	if _, err := parseStatusRSS("Name:\tx\n"); err == nil {
		t.Error("a status without VmRSS parsed")
	}
	if u, err := ProcUsage(os.Getpid()); err != nil || u.RSSKiB <= 0 {
		t.Errorf("this process: %+v, %v", u, err)
	}
}

// TestBMCProcessDiesWithParent: when the process that started a BMC process is killed
// (SIGKILL, no cleanup), the BMC process ends too.
func TestBMCProcessDiesWithParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"=1")
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("the parent's first line %q: %v %v, want the BMC process's pid", line, err, perr)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // only if it outlived its parent: that fails below
	if !alive(pid) {
		t.Fatalf("the BMC process %d is not running under its parent", pid)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// The kernel signals the child as its parent exits; 10 s is only a bound on a slow machine.
	for end := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the BMC process %d still runs after its parent was killed", pid)
		}
	}
}

// alive reports whether a process runs: it exists and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(raw), ')')
	return i < 0 || !strings.HasPrefix(string(raw[i+1:]), " Z")
}

// TestBMCProcessConcurrent: Redfish fences of some hosts and power cuts and restores of others,
// all at once, each end with the right power on both sides of the process boundary.
func TestBMCProcessConcurrent(t *testing.T) {
	ctx := t.Context()
	f := New(1)
	t.Cleanup(func() { _ = f.Close() })
	var names []string
	for i := range 16 {
		names = append(names, fmt.Sprintf("h%02d", i))
	}
	p, err := f.StartBMCProcess(ctx, names, ProcessOptions{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, len(names))
	for i, name := range names {
		go func() {
			if i%2 == 1 {
				errs <- f.CutPower(name)
				return
			}
			c, err := redfish.New(p.URL(name), name, redfish.Credentials{Username: "u", Password: "p"},
				redfish.Trust{PinnedSHA256: p.Fingerprint()}, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(context.WithoutCancel(ctx))
			errs <- c.ForceOff(ctx)
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, name := range names {
		if f.Host(name).Powered() {
			t.Errorf("%s has power after its fence or power cut", name)
		}
		if err := f.RestorePower(name); err != nil {
			t.Error(err)
		}
		if !f.Host(name).Powered() {
			t.Errorf("%s has no power after RestorePower", name)
		}
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
