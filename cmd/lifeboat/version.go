package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
)

// buildDetails says which lifeboat this is; its JSON is what 'lifeboat version -o json' prints.
type buildDetails struct {
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from ("" when unknown), with Modified
	// set if the tree had uncommitted changes.
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	BuildTime string `json:"build_time,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	// Libvirt is the version of the libvirt library the binary is linked with.
	Libvirt string `json:"libvirt"`
}

// currentBuild gathers the build details of this binary.
func currentBuild() buildDetails {
	b := buildDetails{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			case "vcs.time":
				b.BuildTime = s.Value
			}
		}
	}
	if v, err := hypervisor.LibraryVersion(); err == nil {
		b.Libvirt = v
	} else {
		b.Libvirt = "unknown: " + err.Error()
	}
	return b
}

// newVersionCmd prints the build details.
func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print lifeboat's version and build details",
		Long: `Print lifeboat's version and build details: the version, the commit it was built from (and
whether the tree was modified), the commit's time, the Go version, the platform, and the version of
the libvirt library it runs with. With -o json or -o yaml: {"version", "commit", "modified",
"build_time", "go_version", "platform", "libvirt"}. A running daemon's version is in
'lifeboat status' and its metric lifeboat_build_info.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			b := currentBuild()
			if output != "table" {
				return printData(cmd.OutOrStdout(), output, b)
			}
			tw := newTable(cmd.OutOrStdout())
			commit := dash(b.Commit)
			if b.Modified {
				commit += " (modified)"
			}
			for _, row := range [][2]string{{"version", b.Version}, {"commit", commit}, {"commit time", dash(b.BuildTime)},
				{"go", b.GoVersion}, {"platform", b.Platform}, {"libvirt", b.Libvirt}} {
				fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
			}
			return tw.Flush()
		},
	}
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}
