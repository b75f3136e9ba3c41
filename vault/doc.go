// Package vault owns the memory that holds secrets.
//
// A Vault keeps secrets in arenas: anonymous mappings outside the Go heap,
// fenced by PROT_NONE guard pages, locked with mlock and (on Linux) excluded
// from core dumps. Many small secrets share one arena, because the
// locked-memory limit is the scarce resource for unprivileged users. Every
// source reads straight into an arena: no Go string or heap slice ever holds
// a value. Close zeroes every arena, reads it back to prove the zeroes are
// there, then unlocks and unmaps it; it is idempotent and safe from any
// goroutine.
package vault
