package ipmisim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cleanup ends an ipmi_sim that a Server in dir started, by its pid, when the process that ran
// the Server is gone (a lab brought down after a crash), and removes the Server's files. The pid
// is signalled only if it is an ipmi_sim started on dir's configuration. Safe to call when
// nothing runs.
func Cleanup(pid int, dir string) error {
	if pid > 0 && isOurs(pid, dir) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		_ = syscall.Kill(pid, syscall.SIGCONT) // a "down" (stopped) ipmi_sim must run to exit
		deadline := time.Now().Add(stopWait)
		for isOurs(pid, dir) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if isOurs(pid, dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(stopWait)
			for isOurs(pid, dir) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if isOurs(pid, dir) {
			return fmt.Errorf("ipmisim: ipmi_sim (pid %d) of %s survived SIGKILL", pid, dir)
		}
	}
	return removeFiles(dir)
}

// isOurs reports whether pid is a live ipmi_sim (not a zombie) started with dir's lan.conf.
func isOurs(pid int, dir string) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i < 0 || strings.HasPrefix(string(stat[i+1:]), " Z") {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) > 0 && filepath.Base(args[0]) == "ipmi_sim" && slices.Contains(args, filepath.Join(dir, lanConfFile))
}
