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
