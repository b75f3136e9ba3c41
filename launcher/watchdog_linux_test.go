package launcher

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary stand in for ningen when it is started as
// `watchdog`, the way startWatchdog starts ningen.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "watchdog" {
		os.Exit(watchdogMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// watchdogMain is main.go's WatchdogCmd, with the flag package.
func watchdogMain(args []string) int {
	fs := flag.NewFlagSet("watchdog", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "")
	dir := fs.String("cgroup", "", "")
	pidfd := fs.Int("pidfd", -1, "")
	detach := fs.Bool("detach", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := RunWatchdog(*pid, *dir, *pidfd, *detach); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestWatchdogIsNoChild: the watchdog runs with the argv it was given, not
// as a child of the process that started it, watches that process through
// descriptor 3, a pidfd of it, and holds nothing else of it open: its
// standard streams are /dev/null. It is started by /bin/sh where there is
// one, else by ningen itself with --detach; each is tried here. The group
// is a name only, and its removal retires the watchdog (Linux 6.9+).
func TestWatchdogIsNoChild(t *testing.T) {
	for _, sh := range []string{"/bin/sh", filepath.Join(t.TempDir(), "no-shell")} {
		t.Run(filepath.Base(sh), func(t *testing.T) {
			defer func(was string) { shell = was }(shell)
			shell = sh
			dir := filepath.Join(t.TempDir(), groupName(os.Getpid()))
			self := strconv.Itoa(os.Getpid())
			want := strings.Join([]string{os.Args[0], "watchdog", "--pid", self, "--cgroup", dir, "--pidfd", "3"}, "\x00") + "\x00"

			c := groupAt(dir)
			c.startWatchdog([]string{os.Args[0], "watchdog"})
			w := awaitCmdline(t, dir, want)
			wfd, err := unix.PidfdOpen(w, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(wfd)
			defer func() { _ = unix.PidfdSendSignal(wfd, unix.SIGKILL, nil, 0) }()

			if ppid := statPPID(t, w); ppid == os.Getpid() {
				t.Errorf("the watchdog (pid %d) is a child of the process that started it", w)
			}
			info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/3", w))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(info, []byte("\nPid:\t"+self+"\n")) {
				t.Errorf("the watchdog's descriptor 3 is no pidfd of pid %s:\n%s", self, info)
			}
			for fd := range 3 {
				if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", w, fd)); err != nil || l != os.DevNull {
					t.Errorf("the watchdog's descriptor %d is %q (%v), want %s", fd, l, err, os.DevNull)
				}
			}

			if err := c.remove(); err != nil {
				t.Fatal(err)
			}
			if !groupSignal() {
				t.Skip("needs Linux 6.9+ to retire the watchdog: pidfd_send_signal has no PIDFD_SIGNAL_PROCESS_GROUP")
			}
			if !waitExit(wfd, 10*time.Second) {
				t.Error("the watchdog lives on after its group was removed")
			}
		})
	}
}

// awaitCmdline waits until exactly one process runs argv want (NUL
// separated, as /proc shows it), and no other process names dir; a
// go-between may show up for a moment before it exits.
func awaitCmdline(t *testing.T, dir, want string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found, others []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			switch {
			case err != nil || !bytes.Contains(b, []byte(dir)):
			case string(b) == want:
				found = append(found, pid)
			default:
				others = append(others, pid)
			}
		}
		if len(found) == 1 && len(others) == 0 {
			return found[0]
		}
		if time.Now().After(deadline) {
			for _, p := range append(found, others...) {
				_ = unix.Kill(p, unix.SIGKILL)
			}
			t.Fatalf("after 10s: %d watchdogs with argv %q, %d other processes naming the group", len(found), want, len(others))
		}
		time.Sleep(time.Millisecond)
	}
}

// statPPID is field 4 of /proc/PID/stat.
func statPPID(t *testing.T, pid int) int {
	t.Helper()
	f, ok := statFields(pid) // f[0] is field 3
	if !ok || len(f) < 2 {
		t.Fatalf("no /proc/%d/stat", pid)
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}
