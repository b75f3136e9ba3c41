// Command benchab times commands against each other on a noisy host: each
// round runs every command once, in turn, so a burst of load hits them all
// alike; it prints the 25th, 50th and 75th percentile wall time of each.
//
// Usage: benchab -n 200 'CMD ARGS...' 'CMD ARGS...' ...
// (each command is split on spaces; no shell).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 100, "rounds to time (after 2 untimed warm-up rounds)")
	flag.Parse()
	cmds := flag.Args()
	if len(cmds) == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchab -n N 'CMD ARGS...' ...")
		os.Exit(2)
	}
	times := make([][]time.Duration, len(cmds))
	for round := 0; round < *n+2; round++ {
		for i, c := range cmds {
			f := strings.Fields(c)
			start := time.Now()
			if err := exec.Command(f[0], f[1:]...).Run(); err != nil {
				fmt.Fprintf(os.Stderr, "benchab: %s: %v\n", c, err)
				os.Exit(1)
			}
			if round >= 2 {
				times[i] = append(times[i], time.Since(start))
			}
		}
	}
	for i, c := range cmds {
		t := times[i]
		slices.Sort(t)
		fmt.Printf("p25 %6dµs  median %6dµs  p75 %6dµs  %s\n",
			t[len(t)/4].Microseconds(), t[len(t)/2].Microseconds(), t[3*len(t)/4].Microseconds(), c)
	}
}
