package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// bigFake is a fake with n hosts and 3n VMs, listed in no particular order.
func bigFake(n int) *fakeBackend {
	f := newFake()
	f.hosts, f.vms = nil, nil
	for i := n - 1; i >= 0; i-- {
		f.hosts = append(f.hosts, HostView{Name: fmt.Sprintf("h%04d", i), State: "healthy"})
		for j := 0; j < 3; j++ {
			f.vms = append(f.vms, VMView{Name: fmt.Sprintf("vm-%d-%d", i, j), UUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", j, i)})
		}
	}
	return f
}

// TestListsPage walks every page of hosts and VMs with the client and checks that each item
// comes exactly once, in key order, and that a full page announces the next in a Link header.
func TestListsPage(t *testing.T) {
	const n = 250
	f := bigFake(n)
	srv := serve(t, f, ServerOptions{})
	c, err := NewClient(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var names []string
	for after, pages := "", 0; ; pages++ {
		hs, err := c.HostsPage(ctx, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			names = append(names, h.Name)
		}
		if len(hs) < 100 {
			if pages != 2 {
				t.Errorf("%d hosts in %d full pages of 100, want 2", n, pages)
			}
			break
		}
		after = hs[len(hs)-1].Name
	}
	if len(names) != n {
		t.Fatalf("%d hosts over the pages, want %d", len(names), n)
	}
	for i, name := range names {
		if want := fmt.Sprintf("h%04d", i); name != want {
			t.Fatalf("host %d is %s, want %s", i, name, want)
		}
	}
	seen := map[string]bool{}
	prev := ""
	for after := ""; ; {
		vms, err := c.VMsPage(ctx, after, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vms {
			if seen[v.UUID] || v.UUID <= prev {
				t.Fatalf("VM %s out of order or twice", v.UUID)
			}
			seen[v.UUID], prev = true, v.UUID
		}
		if len(vms) < 64 {
			break
		}
		after = vms[len(vms)-1].UUID
	}
	if len(seen) != 3*n {
		t.Fatalf("%d VMs over the pages, want %d", len(seen), 3*n)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/hosts?limit=2&after=h0007", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Link"); got != `</v1/hosts?after=h0009&limit=2>; rel="next"` {
		t.Errorf("Link %q", got)
	}
	// Without paging parameters the whole list comes as before.
	all, err := c.Hosts(ctx)
	if err != nil || len(all) != n {
		t.Fatalf("unpaged hosts: %d, %v", len(all), err)
	}
}

func TestListPagingErrorsNameTheParameter(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	for _, tc := range []struct{ path, want string }{
		{"/v1/hosts?limit=0", `limit "0": want an integer from 1 to 5000`},
		{"/v1/vms?limit=9999", `limit "9999"`},
		{"/v1/hosts?after=", "after is empty: want the host name"},
		{"/v1/vms?after=", "after is empty: want the VM UUID"},
		{"/v1/hosts?limit=1&limit=2", `"limit" given 2 times`},
		{"/v1/vms?page=2", `unknown query parameter "page"`},
	} {
		code, body, _ := get(t, srv.URL+tc.path, "")
		if code != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400", tc.path, code)
			continue
		}
		if msg := decodeError(t, body, CodeBadRequest); !strings.Contains(msg, tc.want) {
			t.Errorf("GET %s: %q, want it to contain %q", tc.path, msg, tc.want)
		}
	}
}
