//go:build unix && !linux

package vault

// scrubInitialEnv cannot find the initial environment block here; the
// variable is still removed from the child's environment.
func scrubInitialEnv(string) {}
