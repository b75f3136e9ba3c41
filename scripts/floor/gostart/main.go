// Command gostart does nothing: scripts/bench.sh times it as the floor of
// any Go program's start on the host (exec, the runtime, exit).
package main

func main() {}
