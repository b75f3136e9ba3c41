// Package launcher starts the child, delivers its secrets, and tracks and
// kills every process that descends from it (the holders).
//
// The child starts from an OS thread locked for the whole session, so that
// PDEATHSIG fires when ningen dies and not when the Go runtime retires a
// thread. ningen is the child subreaper: whatever the child orphans, however
// it detaches (setsid, double fork), is reparented to ningen and stays a
// holder until it is reaped. Signals go through pidfds, or by pid to a
// child of ningen's that is not reaped yet, whose pid cannot have been
// reused, so a reused pid is never signalled.
package launcher
