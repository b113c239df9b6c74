// Package agentd is the in-guest agent's server logic: command parsing, paced memory dirtying
// and the line-protocol TCP server. The lb-agent binary (../../agent) is a thin main around it,
// and the guest package's tests run it in-process so they exercise the real protocol.
package agentd
