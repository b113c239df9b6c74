package ipmisim

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"
)

// rmcpPing is an RMCP/ASF presence ping (DMTF DSP0136): RMCP version 6, sequence 0xff (no
// RMCP ack), class ASF; IANA 4542 (ASF), message type 0x80 (ping), tag 0, no data.
var rmcpPing = []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x00, 0x00, 0x00}

// isPong reports whether b is an ASF presence pong (message type 0x40).
func isPong(b []byte) bool {
	return len(b) >= 12 && bytes.Equal(b[:4], []byte{0x06, 0x00, 0xff, 0x06}) && bytes.Equal(b[4:8], []byte{0x00, 0x00, 0x11, 0xbe}) && b[8] == 0x40
}

// waitPong pings addr until it answers with a pong, exited is closed or ctx ends.
func waitPong(ctx context.Context, addr string, exited <-chan struct{}) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 512)
	for {
		if _, err := c.Write(rmcpPing); err == nil {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := c.Read(buf); err == nil && isPong(buf[:n]) {
				return nil
			}
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("no RMCP pong: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
