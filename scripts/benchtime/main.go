// Command benchtime runs a command many times and prints the median wall
// time, for scripts/bench.sh. Usage: benchtime -n 30 -- CMD [ARGS...]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

func main() {
	n := flag.Int("n", 30, "runs to time (after 3 untimed warm-up runs)")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchtime -n N -- CMD [ARGS...]")
		os.Exit(2)
	}
	times := make([]time.Duration, 0, *n)
	for i := 0; i < *n+3; i++ {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = nil, nil
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "benchtime: %v: %v\n", args, err)
			os.Exit(1)
		}
		if i >= 3 {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	fmt.Printf("%.0f %.0f %.0f\n", us(times[len(times)/2]), us(times[len(times)/10]), us(times[len(times)*9/10]))
}
