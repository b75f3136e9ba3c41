//go:build linux

// Command killbench measures kill latency for scripts/bench.sh: how long it
// takes, from the trigger, until every process of a tree of sleepers is
// dead, for ningen in both tracking modes, for Debian's `tini -g`, and for
// the floor, a bare cgroup.kill of the same tree written by killbench
// itself and waited on until cgroup.events says "populated 0".
//
// Every tree is the same: one sh that starts N `sleep` processes, every
// second one in a session of its own (setsid), and waits. Each run uses a
// random sleep length as its marker, so its processes are found in
// /proc/*/cmdline and nothing else is counted.
//
// Usage: killbench -ningen PATH [-runs 7] [-sizes 10,100,1000]
// [-only floor,cgroup,subreaper,tini] [-tini PATH] [-against PATH]
//
// -against adds rows for a second ningen binary, in the same rounds, for
// A/B comparisons of a change.
//
// It prints a markdown table. cgroup rows need a writable cgroup v2 group
// (root); without one they say so.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ningen-shikkaku/ningen/launcher"
	"golang.org/x/sys/unix"
)

// treeScript starts $1 sleepers of length $2, every second one setsid'd.
const treeScript = `i=0
while [ "$i" -lt "$1" ]; do
	if [ $((i % 2)) = 1 ]; then setsid sleep "$2" & else sleep "$2" & fi
	i=$((i + 1))
done
wait`

// settle is how long, once ningen or tini has exited, killbench watches
// what is left of the tree: what dies meanwhile is not counted as left
// alive.
const settle = 500 * time.Millisecond

type sample struct {
	audit   time.Duration // ningen's own kill step (took=), 0 when none
	outside time.Duration // trigger → the process exited and its tree is dead
	left    int           // marked processes alive at the end
	err     error
}

type runner struct {
	key  string // for -only
	name string
	run  func(n int) sample
}

func main() {
	ningen := flag.String("ningen", "", "the ningen binary")
	tini := flag.String("tini", "tini", "the tini binary")
	runs := flag.Int("runs", 7, "runs of each, in interleaved rounds (median reported)")
	sizes := flag.String("sizes", "10,100,1000", "tree sizes")
	only := flag.String("only", "floor,cgroup,subreaper,tini", "what to run")
	against := flag.String("against", "", "a second ningen binary, timed in the same rounds")
	flag.Parse()
	if *ningen == "" {
		fmt.Fprintln(os.Stderr, "usage: killbench -ningen PATH [-runs N] [-sizes 10,100,1000] [-only floor,cgroup,subreaper,tini] [-tini PATH] [-against PATH]")
		os.Exit(2)
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "killbench: bad size %q\n", s)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	parent, cgErr := writableCgroup()
	all := []runner{
		{"floor", "bare cgroup.kill (floor)", func(n int) sample { return floor(parent, n) }},
		{"cgroup", "ningen --track cgroup", func(n int) sample { return ningenRun(*ningen, "cgroup", n) }},
		{"subreaper", "ningen --track subreaper", func(n int) sample { return ningenRun(*ningen, "subreaper", n) }},
		{"tini", "tini -g", func(n int) sample { return tiniRun(*tini, n) }},
	}
	if *against != "" {
		all = append(all,
			runner{"cgroup", "against: --track cgroup", func(n int) sample { return ningenRun(*against, "cgroup", n) }},
			runner{"subreaper", "against: --track subreaper", func(n int) sample { return ningenRun(*against, "subreaper", n) }})
	}
	var runners []runner
	for _, r := range all {
		if r.key == "floor" || slices.Contains(strings.Split(*only, ","), r.key) {
			runners = append(runners, r) // the floor always runs: the ratios need it
		}
	}
	results := map[string]map[int][]sample{}
	for _, r := range runners {
		results[r.name] = map[int][]sample{}
	}
	for round := 0; round < *runs; round++ {
		for _, n := range ns {
			for _, r := range runners {
				if cgErr != nil && (r.key == "floor" || r.key == "cgroup") {
					continue
				}
				s := r.run(n)
				if s.err != nil {
					fmt.Fprintf(os.Stderr, "killbench: %s, %d sleepers: %v\n", r.name, n, s.err)
				}
				results[r.name][n] = append(results[r.name][n], s)
			}
		}
	}
	report(runners, ns, results, *runs, cgErr)
}

// report prints one row per tool and size: medians, ratios to the floor's
// median of the same size, and the most processes any run left alive.
func report(runners []runner, ns []int, res map[string]map[int][]sample, runs int, cgErr error) {
	fmt.Printf("## Kill latency (median of %d runs, interleaved; --grace 0 for ningen)\n\n", runs)
	fmt.Println("Tree: one sh starting N `sleep`s, every second one setsid'd. *Inside*: ningen's own")
	fmt.Println("audit `took` of the kill step (kill, reap, remove the group). *Outside*: from the trigger")
	fmt.Println("(SIGTERM to ningen or tini; the cgroup.kill write for the floor) until the process has exited")
	fmt.Println("and no process of the tree is alive (for tini, which leaves some: until the last one that dies")
	fmt.Println("is dead). Ratios are to the floor's median in the same run.")
	fmt.Println()
	fmt.Println("| tree | what | inside ms | outside ms | inside / floor | outside / floor | left alive (max) |")
	fmt.Println("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, n := range ns {
		fl := medianOf(res[runners[0].name][n], func(s sample) time.Duration { return s.outside })
		for _, r := range runners {
			ss := res[r.name][n]
			if len(ss) == 0 {
				fmt.Printf("| %d | %s | — | — | — | — | skipped: %v |\n", n, r.name, cgErr)
				continue
			}
			in := medianOf(ss, func(s sample) time.Duration { return s.audit })
			out := medianOf(ss, func(s sample) time.Duration { return s.outside })
			left, failed := 0, 0
			for _, s := range ss {
				left = max(left, s.left)
				if s.err != nil {
					failed++
				}
			}
			leftCell := strconv.Itoa(left)
			if failed > 0 {
				leftCell += fmt.Sprintf(" (%d runs failed)", failed)
			}
			fmt.Printf("| %d | %s | %s | %s | %s | %s | %s |\n", n, r.name,
				ms(in), ms(out), ratio(in, fl), ratio(out, fl), leftCell)
		}
	}
	fmt.Println()
	fmt.Println("Targets: ningen --track cgroup within 1.25× of the floor, --track subreaper within 3×, none left alive.")
	fmt.Println("tini -g signals only its child's process group, so the setsid'd half of each tree outlives it.")
}

func medianOf(ss []sample, f func(sample) time.Duration) time.Duration {
	var ds []time.Duration
	for _, s := range ss {
		if d := f(s); d > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

func ratio(d, floor time.Duration) string {
	if d == 0 || floor == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", float64(d)/float64(floor))
}

// --- the floor -----------------------------------------------------------

// writableCgroup is killbench's own cgroup v2 group, if it may make groups
// under it.
func writableCgroup() (string, error) {
	dir, err := launcher.Cgroup2Dir()
	if err != nil {
		return "", err
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return "", fmt.Errorf("needs root: %s is not writable", dir)
	}
	return dir, nil
}

// floor starts the tree inside a fresh group, writes 1 to its cgroup.kill
// and waits until cgroup.events says "populated 0".
func floor(parent string, n int) sample {
	g := filepath.Join(parent, "killbench-"+randHex(4))
	if err := os.Mkdir(g, 0o755); err != nil {
		return sample{err: err}
	}
	defer removeGroup(g)
	fd, err := unix.Open(g, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return sample{err: err}
	}
	defer unix.Close(fd)
	killer, err := os.OpenFile(filepath.Join(g, "cgroup.kill"), os.O_WRONLY, 0)
	if err != nil {
		return sample{err: err}
	}
	defer killer.Close()
	events, err := unix.Open(filepath.Join(g, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return sample{err: err}
	}
	defer unix.Close(events)

	mark := randMark()
	cmd := exec.Command("/bin/sh", "-c", treeScript, "tree", strconv.Itoa(n), mark)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		return sample{err: err}
	}
	defer func() { _ = cmd.Wait() }()
	if err := awaitSleepers(mark, n); err != nil {
		killMarked(mark)
		return sample{err: err}
	}
	t0 := time.Now()
	if _, err := killer.Write([]byte("1")); err != nil {
		killMarked(mark)
		return sample{err: err}
	}
	for populated(events) {
		fds := []unix.PollFd{{Fd: int32(events), Events: unix.POLLPRI}}
		_, _ = unix.Poll(fds, 50)
	}
	s := sample{outside: time.Since(t0)}
	s.left = len(marked(mark))
	killMarked(mark)
	return s
}

func populated(fd int) bool {
	buf := make([]byte, 256)
	n, err := unix.Pread(fd, buf, 0)
	return err == nil && bytes.Contains(buf[:n], []byte("populated 1"))
}

func removeGroup(g string) {
	for range 200 {
		if err := unix.Rmdir(g); err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "killbench: could not remove %s\n", g)
}

// --- ningen and tini ------------------------------------------------------

func ningenRun(bin, mode string, n int) sample {
	mark := randMark()
	s := runTree(n, mark, bin, "run", "--grace", "0", "--track", mode, "--",
		"/bin/sh", "-c", treeScript, "tree", strconv.Itoa(n), mark)
	if s.err != nil {
		return s
	}
	if s.audit == 0 {
		s.err = errors.New("no kill audit line")
	}
	return s
}

func tiniRun(bin string, n int) sample {
	mark := randMark()
	return runTree(n, mark, bin, "-g", "--", "/bin/sh", "-c", treeScript, "tree", strconv.Itoa(n), mark)
}

// runTree starts argv, waits for the tree's n sleepers, sends SIGTERM,
// waits for the process to exit and for its tree to die.
func runTree(n int, mark string, argv ...string) sample {
	errf, err := os.CreateTemp("", "killbench-stderr-")
	if err != nil {
		return sample{err: err}
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	// A file, not a pipe: a survivor holding a pipe would keep Wait waiting.
	cmd.Stderr = errf
	if err := cmd.Start(); err != nil {
		return sample{err: err}
	}
	if err := awaitSleepers(mark, n); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		killMarked(mark)
		return sample{err: err}
	}
	t0 := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	s := sample{}
	s.outside, s.left = awaitTreeDead(mark, t0)
	killMarked(mark)
	if b, err := os.ReadFile(errf.Name()); err == nil {
		s.audit = killTook(string(b))
	}
	return s
}

// awaitTreeDead watches the tree once the process has exited. If none of
// it is alive then, the time is the exit's; otherwise it watches for up to
// settle and takes the time of the last death it saw, and how many are
// left (a survivor never dies).
func awaitTreeDead(mark string, t0 time.Time) (time.Duration, int) {
	last := time.Since(t0)
	left := marked(mark)
	deadline := time.Now().Add(settle)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
		now := marked(mark)
		if len(now) < len(left) {
			last = time.Since(t0)
		}
		left = now
	}
	return last, len(left)
}

// killTook is the took= of ningen's kill audit line.
func killTook(stderr string) time.Duration {
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.Contains(l, "event=kill ") {
			continue
		}
		for _, w := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(w, "took="); ok {
				d, _ := time.ParseDuration(v)
				return d
			}
		}
	}
	return 0
}

// --- /proc -----------------------------------------------------------------

// awaitSleepers waits until n processes run `sleep MARK`.
func awaitSleepers(mark string, n int) error {
	want := []byte("sleep\x00" + mark + "\x00")
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := 0
		for _, pid := range pids() {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && bytes.Equal(b, want) {
				got++
			}
		}
		if got == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d sleepers started", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// marked lists the live (not zombie) processes whose argv holds mark.
func marked(mark string) []int {
	var out []int
	for _, pid := range pids() {
		p := "/proc/" + strconv.Itoa(pid)
		b, err := os.ReadFile(p + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(mark)) {
			continue
		}
		st, err := os.ReadFile(p + "/stat")
		if i := bytes.LastIndexByte(st, ')'); err == nil && i >= 0 && i+2 < len(st) && st[i+2] != 'Z' && st[i+2] != 'X' {
			out = append(out, pid)
		}
	}
	return out
}

func killMarked(mark string) {
	for range 100 {
		left := marked(mark)
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pids() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randMark is a sleep length no other process uses: 100000.DIGITS.
func randMark() string {
	var b strings.Builder
	b.WriteString("100000.")
	for range 12 {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteString(d.String())
	}
	return b.String()
}
