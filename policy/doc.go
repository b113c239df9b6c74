// Package policy is lifeboat's pure decision logic: observations and the current time go in,
// verdicts and plans with reasons come out. Nothing here does I/O or reads the clock.
package policy
