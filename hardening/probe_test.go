package hardening

import (
	"errors"
	"github.com/ningen-shikkaku/ningen/launcher"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestParseSwaps(t *testing.T) {
	const header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	tests := []struct {
		name, data string
		want       []swapDevice
		wantErr    bool
	}{
		{name: "off", data: header},
		{name: "empty file", data: ""},
		{name: "a partition", data: header + "/dev/sda2                               partition\t2097148\t\t0\t\t-2\n",
			want: []swapDevice{{Path: "/dev/sda2", Type: "partition", SizeKiB: 2097148}}},
		{name: "a file and zram", data: header +
			"/swapfile                               file\t\t1048572\t\t5120\t\t-3\n" +
			"/dev/zram0                              partition\t4194300\t\t0\t\t100\n",
			want: []swapDevice{
				{Path: "/swapfile", Type: "file", SizeKiB: 1048572, UsedKiB: 5120},
				{Path: "/dev/zram0", Type: "partition", SizeKiB: 4194300},
			}},
		{name: "a deleted file with an escaped space", data: header + `/my\040swap\040(deleted)     file	1024	0	-2` + "\n",
			want: []swapDevice{{Path: "/my swap (deleted)", Type: "file", SizeKiB: 1024}}},
		{name: "short line", data: header + "/dev/sda2 partition 2097148\n", wantErr: true},
		{name: "bad size", data: header + "/dev/sda2 partition big 0 -2\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSwaps(tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSwaps error = %v, want error: %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseSwaps = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("parseSwaps[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSwapItem(t *testing.T) {
	if s := swapItem(nil, nil); s.Status != Holds || s.Devices != 0 {
		t.Errorf("no devices: %+v, want ok", s)
	}
	s := swapItem([]swapDevice{{Path: "/dev/sda2", SizeKiB: 2 << 20}, {Path: "/swapfile", SizeKiB: 1 << 20}}, nil)
	if s.Status != DoesNotHold || s.Devices != 2 || s.SizeBytes != 3<<30 || !strings.Contains(s.Why, "3 GiB") {
		t.Errorf("two devices: %+v", s)
	}
	if s := swapItem(nil, os.ErrPermission); s.Status != Unknown || !errors.Is(s.Err, os.ErrPermission) {
		t.Errorf("unreadable: %+v, want unknown", s)
	}
}

func TestInitOnFreeItem(t *testing.T) {
	tests := []struct {
		cmdline string
		status  Status
		value   string
	}{
		{"BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet", Unknown, ""},
		{"root=/dev/sda1 init_on_free=1", Holds, "1"},
		{"init_on_free=on init_on_alloc=1", Holds, "on"},
		{"init_on_free=0", DoesNotHold, "0"},
		{"init_on_free=1 init_on_free=0", DoesNotHold, "0"}, // the last one wins
		{"init_on_free=maybe", Unknown, "maybe"},
		{"quiet -- init_on_free=1", Unknown, ""}, // after "--" it is init's argument
		{"no_init_on_free=1", Unknown, ""},
	}
	for _, tt := range tests {
		got := initOnFreeItem(tt.cmdline+"\n", nil)
		if got.Status != tt.status || got.Cmdline != tt.value {
			t.Errorf("initOnFreeItem(%q) = %s %q (%s), want %s %q", tt.cmdline, got.Status, got.Cmdline, got.Why, tt.status, tt.value)
		}
	}
}

func TestMemlockItem(t *testing.T) {
	const page = 4096
	tests := []struct {
		name       string
		soft, hard int64
		capLock    bool
		status     Status
		why        string
	}{
		{"default 8 MiB", 8 << 20, 8 << 20, false, Holds, "up to 8 MiB"},
		{"unlimited", -1, -1, false, Holds, "up to unlimited"},
		{"one page exactly", page, page, false, Holds, "up to 4 KiB"},
		{"zero, hard allows", 0, 64 << 10, false, DoesNotHold, "ulimit -l"},
		{"zero, hard unlimited", 0, -1, false, DoesNotHold, "ulimit -l"},
		{"zero everywhere", 0, 0, false, DoesNotHold, "hard limit is too low"},
		{"below a page", page - 1, page - 1, false, DoesNotHold, "less than one page"},
		{"zero with CAP_IPC_LOCK", 0, 0, true, Holds, "CAP_IPC_LOCK is effective"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memlockItem(tt.soft, tt.hard, tt.capLock, "", page)
			if m.Status != tt.status || !strings.Contains(m.Why, tt.why) || m.Soft != tt.soft || m.Hard != tt.hard {
				t.Fatalf("memlockItem = %+v, want %s with %q", m, tt.status, tt.why)
			}
		})
	}
}

func TestRlimitBytes(t *testing.T) {
	const inf = ^uint64(0)
	for _, tt := range []struct {
		v, inf uint64
		want   int64
	}{{0, inf, 0}, {8 << 20, inf, 8 << 20}, {inf, inf, -1}, {1<<63 - 1, 1<<63 - 1, -1}, {1 << 63, inf, -1}} {
		if got := rlimitBytes(tt.v, tt.inf); got != tt.want {
			t.Errorf("rlimitBytes(%d, %d) = %d, want %d", tt.v, tt.inf, got, tt.want)
		}
	}
}

func TestFormatLimit(t *testing.T) {
	for n, want := range map[int64]string{-1: "unlimited", 0: "0 bytes", 4095: "4095 bytes", 65536: "64 KiB",
		8 << 20: "8 MiB", 3 << 30: "3 GiB", 1<<20 + 1024: "1025 KiB"} {
		if got := formatLimit(n); got != want {
			t.Errorf("formatLimit(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCapEffective(t *testing.T) {
	const status = "Name:\tcat\nUmask:\t0022\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t%s\nCapBnd:\t000001ffffffffff\n"
	for _, tt := range []struct {
		capEff string
		want   bool
	}{{"000001fffeffffff", true}, {"0000000000000000", false}, {"0000000000004000", true}, {"0000000000003fff", false}} {
		got, err := capEffective(strings.Replace(status, "%s", tt.capEff, 1), capIPCLock)
		if err != nil || got != tt.want {
			t.Errorf("CapEff %s: %v, %v; want %v", tt.capEff, got, err, tt.want)
		}
	}
	if _, err := capEffective("Name:\tcat\n", capIPCLock); err == nil {
		t.Error("no CapEff line: want an error")
	}
	if _, err := capEffective("CapEff:\tzz\n", capIPCLock); err == nil {
		t.Error("bad CapEff: want an error")
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tt := range []struct {
		release string
		want    bool
	}{{"6.18.44-fc-v1147", true}, {"5.14.0", true}, {"5.13.19", false}, {"4.19.0-26-amd64", false},
		{"6.10-rc1", true}, {"5.14-rc7", true}, {"10.0", true}, {"junk", false}, {"", false}} {
		if got := kernelAtLeast(tt.release, 5, 14); got != tt.want {
			t.Errorf("kernelAtLeast(%q, 5, 14) = %v, want %v", tt.release, got, tt.want)
		}
	}
}

func TestCgroupItem(t *testing.T) {
	c := cgroupItem("/sys/fs/cgroup", "/user.slice/u.scope", "/sys/fs/cgroup/user.slice/u.scope", nil, true)
	if c.Status != Holds || !c.Writable || !c.CgroupKill {
		t.Errorf("writable with cgroup.kill: %+v, want ok", c)
	}
	c = cgroupItem("/sys/fs/cgroup", "/user.slice", "/sys/fs/cgroup/user.slice", os.ErrPermission, true)
	if c.Status != DoesNotHold || c.Writable || !strings.Contains(c.Why, "not writable") {
		t.Errorf("not writable: %+v, want no", c)
	}
	c = cgroupItem("/sys/fs/cgroup/unified", "/", "/sys/fs/cgroup/unified", nil, false)
	if c.Status != DoesNotHold || !strings.Contains(c.Why, "root group") {
		t.Errorf("root group on an old kernel: %+v, want no", c)
	}
}

func TestPtraceItem(t *testing.T) {
	for _, tt := range []struct {
		data   string
		err    error
		absent bool
		status Status
		scope  int
	}{
		{"0\n", nil, false, DoesNotHold, 0},
		{"1\n", nil, false, Holds, 1},
		{"2\n", nil, false, Holds, 2},
		{"3\n", nil, false, Holds, 3},
		{"7\n", nil, false, Unknown, -1},
		{"", os.ErrNotExist, true, DoesNotHold, -1},
		{"", os.ErrPermission, false, Unknown, -1},
	} {
		p := ptraceItem(tt.data, tt.err, tt.absent)
		if p.Status != tt.status || p.Scope != tt.scope {
			t.Errorf("ptraceItem(%q, %v) = %+v, want %s scope %d", tt.data, tt.err, p, tt.status, tt.scope)
		}
		if tt.absent && !strings.Contains(p.Why, "Yama is not present") {
			t.Errorf("absent: %q does not say Yama is not present", p.Why)
		}
	}
}

func TestCoreItem(t *testing.T) {
	c := coreItem("core\n", nil)
	if c.Status != Holds || c.Pipe || c.Pattern != "core" {
		t.Errorf("file pattern: %+v", c)
	}
	c = coreItem("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h\n", nil)
	if !c.Pipe || c.Status != Unknown || !strings.Contains(c.Why, "/usr/lib/systemd/systemd-coredump,") {
		t.Errorf("pipe pattern: %+v", c)
	}
	if c := coreItem("|", nil); !c.Pipe || !strings.Contains(c.Why, "the handler") {
		t.Errorf("bare pipe: %+v", c)
	}
}

// Core fails closed: only a positive answer is a guarantee that can hold.
func TestCoreFailsClosed(t *testing.T) {
	var r Report
	r.Memlock.Status, r.Seccomp.Status = Holds, Holds
	if g := r.Core(); !g[0].Holds || !g[1].Holds || g[0].Name != "G1" || g[1].Name != "G4" {
		t.Fatalf("both hold: %+v", g)
	}
	for _, s := range []Status{DoesNotHold, Unknown, Unsupported, ""} {
		r.Memlock.Item = Item{Status: s, Why: "because"}
		r.Seccomp.Item = Item{Status: s, Why: "because"}
		for _, g := range r.Core() {
			if g.Holds || g.Why != "because" {
				t.Errorf("status %q: %s = %+v, want it not to hold, with the item's why", s, g.Name, g)
			}
		}
	}
}

// This machine's own files parse, and say the same as the kernel.
func TestRealProcFiles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: /proc is not there")
	}
	mi := readFile(t, "/proc/self/mountinfo")
	for line := range strings.Lines(mi) {
		if _, err := launcher.ParseMountinfoLine(strings.TrimSuffix(line, "\n")); err != nil {
			t.Error(err)
		}
	}
	group, err := launcher.CgroupV2Group(readFile(t, "/proc/self/cgroup"))
	if err != nil {
		t.Skipf("no cgroup v2 here: %v", err)
	}
	_, dir, err := launcher.CgroupDir(mi, group)
	if err != nil {
		t.Fatal(err)
	}
	procs := readFile(t, dir+"/cgroup.procs")
	if !strings.Contains("\n"+procs, "\n"+strconv.Itoa(os.Getpid())+"\n") {
		t.Errorf("%s/cgroup.procs does not list this process (%d)", dir, os.Getpid())
	}

	swaps := readFile(t, "/proc/swaps")
	devs, err := parseSwaps(swaps)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(swaps, "\n"); len(devs) != lines-1 {
		t.Errorf("parseSwaps found %d devices in %d lines", len(devs), lines)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzParseSwaps(f *testing.F) {
	f.Add("Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 2097148 0 -2\n")
	f.Fuzz(func(t *testing.T, data string) {
		devs, err := parseSwaps(data)
		if err == nil && len(devs) > strings.Count(data, "\n")+1 {
			t.Fatalf("%d devices from %q", len(devs), data)
		}
	})
}
