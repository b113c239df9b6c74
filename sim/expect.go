package sim

import (
	"bytes"
	"strings"
)

// Diff compares an expected action log with the one a run produced, and returns a readable
// line diff ("" when they are the same): "-" lines are expected but missing, "+" lines came
// unexpectedly, "  " lines are context.
func Diff(want, got []string) string {
	if equal(want, got) {
		return ""
	}
	// Longest common subsequence, enough for logs of a few hundred lines.
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			ops = append(ops, "  "+want[i])
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, "+ "+got[j])
			j++
		default:
			ops = append(ops, "- "+want[i])
			i++
		}
	}
	// Show the changes with three lines of context.
	const context = 3
	keep := make([]bool, len(ops))
	for k, op := range ops {
		if op[0] != ' ' {
			for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
				keep[c] = true
			}
		}
	}
	var b strings.Builder
	for k, op := range ops {
		switch {
		case keep[k]:
			b.WriteString(op + "\n")
		case k > 0 && keep[k-1]:
			b.WriteString("  ...\n")
		}
	}
	return b.String()
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WithExpect returns a scenario file's text with its expect section replaced by log (added
// when it has none). The expect section must be the file's last top-level key.
func WithExpect(file []byte, log []string) []byte {
	lines := bytes.Split(file, []byte("\n"))
	cut := len(lines)
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("expect:")) {
			cut = i
			break
		}
	}
	var b bytes.Buffer
	b.Write(bytes.TrimRight(bytes.Join(lines[:cut], []byte("\n")), "\n"))
	b.WriteString("\nexpect: |\n")
	for _, l := range log {
		b.WriteString("  " + l + "\n")
	}
	return b.Bytes()
}
