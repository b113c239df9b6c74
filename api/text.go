package api

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the free text people and Alertmanager send.
const (
	// MaxReasonLen bounds an operator's reason (degrade, reject, disarm), in characters.
	MaxReasonLen = 1000
	// MaxNameLen bounds a name in a request body (a host, a confirmation), in characters.
	MaxNameLen = 253
	// MaxAlertTextLen bounds an alert's name and summary as stored, in characters.
	MaxAlertTextLen = 500
)

// unsafeRune reports whether c must not reach a terminal as it is: C0 and C1 control
// characters, DEL, and the Unicode format characters that reorder or hide text (bidirectional
// overrides and isolates, zero-width characters).
func unsafeRune(c rune) bool {
	return unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == utf8.RuneError
}

// CheckText returns an error naming field when s is longer than max characters, is not UTF-8,
// or holds a control or format character (which could forge lines or colours on a terminal).
func CheckText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s is too long (%d characters, at most %d)", field, n, max)
	}
	for _, c := range s {
		if unsafeRune(c) {
			return fmt.Errorf("%s contains the control character %U", field, c)
		}
	}
	return nil
}

// SanitizeText returns s with every control or format character (and invalid UTF-8) replaced
// by a space, runs of white space folded, and cut to max characters and a "…". It is for text
// lifeboat stores from sources it cannot refuse (Alertmanager annotations).
func SanitizeText(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, c := range strings.ToValidUTF8(s, "\uFFFD") {
		if unsafeRune(c) || unicode.IsSpace(c) {
			space = true
			continue
		}
		sep := space && b.Len() > 0
		if n+1+boolInt(sep) > max {
			b.WriteString("…")
			return b.String()
		}
		if sep {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(c)
		n++
	}
	return b.String()
}

// boolInt is 1 for true.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Printable returns s with control and format characters (newlines and tabs too) shown as Go escapes
// (\n, \x1b, \u202e), so that text from the journal cannot forge lines or colours on a
// terminal. Text without them comes back unchanged.
func Printable(s string) string {
	clean := true
	for _, c := range s {
		if unsafeRune(c) {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		c, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case c == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(c):
			q := fmt.Sprintf("%+q", string(c))
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
