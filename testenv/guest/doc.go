// Package guest is the client side of the lab guest's in-guest agent (lb-agent, built from
// ./agent and packed into the guest's initramfs by scripts/build-guest.sh).
//
// The agent listens on TCP port AgentPort and speaks a line protocol: one command per line,
// exactly one reply line per command.
//
//	status           -> one JSON object (see Status)
//	dirty RATE SIZE  -> "ok": dirty a SIZE MiB buffer at RATE MiB/s (RATE 0 = as fast as possible),
//	                    writing one byte per 4 KiB page; a new dirty replaces the previous one
//	stop             -> "ok": stop dirtying and free the buffer
//	panic            -> "ok", then the guest kernel panics (SysRq c)
//	anything else    -> "error: <what is wrong>"
//
// Every call of this package opens its own connection, so calls may run concurrently.
package guest
