package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// start is when the agent started, the uptime fallback when /proc/uptime cannot be read.
var start = time.Now()

// guestName returns lb.name= from /proc/cmdline, else the hostname, else "unknown".
func guestName() string {
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		if name := cmdlineName(string(b)); name != "" {
			return name
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown"
}

// cmdlineName returns the value of the last lb.name= parameter of a kernel command line.
func cmdlineName(cmdline string) string {
	name := ""
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "lb.name="); ok {
			name = v
		}
	}
	return name
}

// uptime returns the guest's uptime in seconds from /proc/uptime.
func uptime() float64 {
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if v, err := parseUptime(string(b)); err == nil {
			return v
		}
	}
	return time.Since(start).Seconds()
}

// parseUptime parses /proc/uptime's first field.
func parseUptime(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, errors.New("empty /proc/uptime")
	}
	return strconv.ParseFloat(f[0], 64)
}

// memAvailableMiB returns MemAvailable from /proc/meminfo, in MiB.
func memAvailableMiB() (int, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	return parseMemAvailable(string(b))
}

// parseMemAvailable extracts MemAvailable, in MiB, from the text of /proc/meminfo.
func parseMemAvailable(meminfo string) (int, error) {
	for _, line := range strings.Split(meminfo, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kib, err := strconv.Atoi(f[1])
			if err != nil {
				return 0, errors.New("bad MemAvailable in /proc/meminfo: " + f[1])
			}
			return kib >> 10, nil
		}
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}
