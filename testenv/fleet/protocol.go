package fleet

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The line protocol between a BMC process (ServeBMCs, the child) and its parent
// (StartBMCProcess). Every line is a verb and its words, separated by single spaces.
//
// Child to parent, once at start: "bmc NAME URL" for every host, in the order asked, then
// "ready SHA256" (the hex SHA-256 of the certificate all emulators serve). Then:
//   - "off NAME", "on NAME": a Redfish reset (ForceOff, On) asks to change the host's power;
//     the emulator reports the new state once the parent answers "done off NAME" or
//     "done on NAME" (it has applied it to the simulated host);
//   - "done cut NAME", "done restore NAME": the answer to the parent's cut or restore;
//   - "error TEXT": the answer to a bad line from the parent, naming that line.
//
// Parent to child, once at start: one line of JSON, a childSpec. Then:
//   - "cut NAME": the host lost its power: its BMC reports Off and sends a power event;
//   - "restore NAME": the power is back: its BMC reports On and sends a power event;
//   - "done off NAME", "done on NAME": the answer to the child's off or on.

// verb is the first word of a protocol line.
type verb string

// The verbs of the protocol.
const (
	verbBMC     verb = "bmc"
	verbReady   verb = "ready"
	verbOff     verb = "off"
	verbOn      verb = "on"
	verbCut     verb = "cut"
	verbRestore verb = "restore"
	verbDone    verb = "done"
	verbError   verb = "error"
)

// message is one parsed protocol line.
type message struct {
	verb verb
	// name is the host of bmc, off, on, cut, restore and done.
	name string
	// of is what a done answers: off, on, cut or restore.
	of verb
	// url is the emulator's address in a bmc line.
	url string
	// text is the fingerprint of ready, the message of error.
	text string
}

// String is the message as a protocol line, without the newline.
func (m message) String() string {
	switch m.verb {
	case verbBMC:
		return fmt.Sprintf("%s %s %s", m.verb, m.name, m.url)
	case verbReady, verbError:
		return fmt.Sprintf("%s %s", m.verb, m.text)
	case verbDone:
		return fmt.Sprintf("%s %s %s", m.verb, m.of, m.name)
	case verbOff, verbOn, verbCut, verbRestore:
		return fmt.Sprintf("%s %s", m.verb, m.name)
	}
	return string(m.verb)
}

// ErrProtocol is wrapped by every error about a line of the BMC process protocol.
var ErrProtocol = errors.New("BMC process protocol")

// lineError is the error of line n (counted from 1) of a stream: it names the line and quotes it.
func lineError(n int, line, format string, args ...any) error {
	return fmt.Errorf("%w: line %d %q: %s", ErrProtocol, n, line, fmt.Sprintf(format, args...))
}

// parseLine parses line n of a stream, which may hold only the verbs in allowed.
func parseLine(n int, line string, allowed ...verb) (message, error) {
	words := strings.Split(line, " ")
	m := message{verb: verb(words[0])}
	if !slices.Contains(allowed, m.verb) {
		want := make([]string, len(allowed))
		for i, v := range allowed {
			want[i] = string(v)
		}
		return m, lineError(n, line, "unknown verb %q, want one of %s", words[0], strings.Join(want, ", "))
	}
	args := words[1:]
	count := func(want int, form string) error {
		if len(args) != want {
			return lineError(n, line, "%d words after %q, want %d: %s", len(args), m.verb, want, form)
		}
		return nil
	}
	switch m.verb {
	case verbBMC:
		if err := count(2, "bmc NAME URL"); err != nil {
			return m, err
		}
		m.name, m.url = args[0], args[1]
		if u, err := url.Parse(m.url); err != nil || u.Scheme != "https" || u.Host == "" {
			return m, lineError(n, line, "URL %q is not an https:// address", m.url)
		}
	case verbReady:
		if err := count(1, "ready SHA256"); err != nil {
			return m, err
		}
		m.text = args[0]
		if b, err := hex.DecodeString(m.text); err != nil || len(b) != 32 {
			return m, lineError(n, line, "fingerprint %q is not a hex SHA-256", m.text)
		}
	case verbError:
		m.text = strings.Join(args, " ")
		if m.text == "" {
			return m, lineError(n, line, "an error without a message")
		}
	case verbDone:
		if err := count(2, "done VERB NAME"); err != nil {
			return m, err
		}
		m.of, m.name = verb(args[0]), args[1]
		switch m.of {
		case verbOff, verbOn, verbCut, verbRestore:
		default:
			return m, lineError(n, line, "done %q: want off, on, cut or restore", args[0])
		}
	case verbOff, verbOn, verbCut, verbRestore:
		if err := count(1, string(m.verb)+" NAME"); err != nil {
			return m, err
		}
		m.name = args[0]
	}
	if m.name == "" && m.verb != verbReady && m.verb != verbError {
		return m, lineError(n, line, "empty host name")
	}
	return m, nil
}
