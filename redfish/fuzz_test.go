package redfish

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCredentials: the credentials parser never panics, what it accepts has both a user name
// and a password, and its errors never show a password.
func FuzzCredentials(f *testing.F) {
	for _, seed := range []string{"username=admin\npassword=pw\n", "login=a\npasswd=b", "# c\n\nusername = a \n password= b", "password=only", "junk", "username=a\npassword=s3cr=t"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := parseCredentials("creds", []byte(body))
		if err != nil {
			for _, line := range strings.Split(body, "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.Contains(strings.ToLower(k), "pass") && len(strings.TrimSpace(v)) > 3 && strings.Contains(err.Error(), strings.TrimSpace(v)) {
					t.Fatalf("the error shows a password: %v", err)
				}
			}
			return
		}
		if c.Username == "" || c.Password == "" {
			t.Fatalf("%q: accepted %v without a user name or password", body, c)
		}
	})
}

// FuzzEventStream: whatever a BMC sends on its event stream, the parser never panics, every
// message it passes on is made of data lines that were in the input, and a message that is not
// a Redfish Event is refused as a bad answer.
func FuzzEventStream(f *testing.F) {
	for _, seed := range []string{
		"id: 1\ndata: {\"Id\":\"1\",\"Events\":[{\"EventType\":\"ResourceUpdated\",\"MessageId\":\"ResourceEvent.1.0.ResourceChanged\",\"OriginOfCondition\":{\"@odata.id\":\"/redfish/v1/Systems/h1\"}}]}\n\n",
		":\n\n", "data: {\n\n", "data: {\"Events\":7}\n\n", "id\ndata\n\n\n", "data: {}\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, stream string) {
		err := readSSE(strings.NewReader(stream), func() {}, func(id, data string) error {
			for _, line := range strings.Split(data, "\n") {
				if !strings.Contains(stream, line) {
					t.Fatalf("data line %q is not in the stream", line)
				}
			}
			if _, err := decodeEvents(id, data); err != nil && !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("decode %q: %v, want ErrBadAnswer", data, err)
			}
			return nil
		})
		if err == nil {
			t.Fatal("readSSE ended without an error (want io.EOF at the end)")
		}
	})
}

// FuzzPushedEvent: any body either parses, with a context, or fails with an error; never a
// panic.
func FuzzPushedEvent(f *testing.F) {
	f.Add([]byte(`{"Context":"c","Events":[{"EventType":"StatusChange","OriginOfCondition":{"@odata.id":"/redfish/v1/Systems/h1"}}]}`))
	f.Add([]byte(`{"Context":null,"Events":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParsePushedEvent(body)
		if err == nil && ev.Events == nil {
			t.Errorf("parsed %q without an Events list", body)
		}
	})
}
