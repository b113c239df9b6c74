package testenv

import "testing"

func TestLabSmokeBIOS(t *testing.T) {
	l := StartForTest(t, Options{Hosts: 2, VMs: 2, GuestKind: GuestBIOS})
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
}
