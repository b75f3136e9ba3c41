// Package signals turns the events that end a session into one kill
// sequence, run exactly once in a fixed order: kill every holder, wipe every
// secret, then exit the way the caller should see.
//
// Any number of triggers may arrive from any goroutine; the first one
// starts the sequence and decides how ningen exits, a later external one
// during the grace period cuts it short (straight to SIGKILL). The clock and
// the steps are injected, so tests drive the sequence without real time.
package signals
