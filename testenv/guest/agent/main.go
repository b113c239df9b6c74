// Command lb-agent is the lab guest's in-guest agent: a static program started by the guest's
// /init (see scripts/build-guest.sh) that listens on TCP port 7777 and dirties memory on
// request, so that migrations of the guest have a controlled dirty-page load. The protocol is
// described in package guest.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lifeboat-ha/lifeboat/testenv/guest"
	"github.com/lifeboat-ha/lifeboat/testenv/guest/internal/agentd"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("lb-agent: ")
	name := guestName()
	srv := agentd.NewServer(name)
	srv.Uptime = uptime
	srv.MemAvailableMiB = memAvailableMiB
	srv.Logf = log.Printf
	srv.Panic = panicKernel

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", guest.AgentPort))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s listening on %s", name, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil {
		log.Fatal(err)
	}
}

// panicKernel crashes the guest's kernel through magic SysRq ("c"), as a real kernel bug would.
func panicKernel() error {
	if err := os.WriteFile("/proc/sys/kernel/sysrq", []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable sysrq: %w", err)
	}
	if err := os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0o200); err != nil {
		return fmt.Errorf("sysrq c: %w", err)
	}
	return nil
}
