package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/lifeboat-ha/lifeboat/api"
)

// timeLayout is how the CLI shows points in time (local time).
const timeLayout = "2006-01-02 15:04:05.000"

// outputFormats are the values of -o: a table for people, JSON or YAML for programs.
var outputFormats = []string{"table", "json", "yaml"}

// addOutputFlag declares -o/--output on fs (a flag set of cmd), default table, and completes its
// values.
func addOutputFlag(cmd *cobra.Command, fs *pflag.FlagSet, output *string) {
	fs.StringVarP(output, "output", "o", "table", "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedValues(outputFormats...))
}

// checkOutput validates an -o value; a bad one is a usage error (exit status 2).
func checkOutput(output string) error {
	for _, f := range outputFormats {
		if output == f {
			return nil
		}
	}
	return usageError(fmt.Errorf("-o %q: want table, json or yaml", output))
}

// printData writes v as indented JSON (output "json") or as YAML with the same keys ("yaml").
// A nil slice is written as an empty list, never null.
func printData(w io.Writer, output string, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []struct{}{}
	}
	if output == "yaml" {
		return printYAML(w, v)
	}
	return printJSON(w, v)
}

// printYAML writes v as YAML whose keys and order are those of its JSON encoding (the API's
// field names), in block style.
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	return nil
}

// blockStyle turns JSON's flow style and double quotes into plain block YAML. The encoder still
// quotes a string that would read as another type in YAML 1.2; strings that YAML 1.1 readers
// take for booleans (yes, no, on, off, y, n) stay quoted too.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		switch strings.ToLower(n.Value) {
		case "yes", "no", "on", "off", "y", "n":
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// newTable returns a tabwriter for aligned columns separated by two spaces; Flush it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// age says how long ago t was, compactly: 12s, 4m12s, 3h4m, 2d3h; "-" for the zero time.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// when shows a point in time in local time, or "-" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeLayout)
}

// dash stands in for an empty cell, and shows control characters as escapes (\n, \x1b), so
// that text from the daemon cannot forge lines or colours on the terminal.
func dash[S ~string](s S) string {
	if s == "" {
		return "-"
	}
	return api.Printable(string(s))
}

// oneArg accepts exactly one argument; the error names what was wanted, then the hint.
func oneArg(what, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want one %s, got %d arguments%s", what, len(args), hint)
		}
		return nil
	}
}

// actionDone is what an acting command with no result of its own prints with -o json|yaml.
type actionDone struct {
	// Command is the command path, e.g. "lifeboat undrain".
	Command string `json:"command"`
	// Target is the host, VM or migration acted on.
	Target string `json:"target"`
	// Result is the sentence the table output prints.
	Result string `json:"result"`
}

// reportDone prints an acting command's outcome: the sentence, or with -o json|yaml an actionDone.
func reportDone(cmd *cobra.Command, output, target, sentence string) error {
	if output != "table" {
		return printData(cmd.OutOrStdout(), output, actionDone{Command: cmd.CommandPath(), Target: target, Result: sentence})
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), sentence)
	return err
}
