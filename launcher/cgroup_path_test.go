package launcher

import (
	"strings"
	"testing"
)

func TestParseMountinfoLine(t *testing.T) {
	tests := []struct {
		name, line string
		want       MountInfo
		wantErr    bool
	}{
		{
			name: "proc(5) example",
			line: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
			want: MountInfo{Root: "/mnt1", MountPoint: "/mnt2", FSType: "ext3", Source: "/dev/root"},
		},
		{
			name: "cgroup2 on a unified host",
			line: "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot",
			want: MountInfo{Root: "/", MountPoint: "/sys/fs/cgroup", FSType: "cgroup2", Source: "cgroup2"},
		},
		{
			name: "cgroup2 on a hybrid host, no optional fields",
			line: "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
			want: MountInfo{Root: "/", MountPoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", Source: "cgroup2"},
		},
		{
			name: "a container's view of its own group",
			line: "612 605 0:30 /system.slice/docker-4f3c.scope /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime master:9 - cgroup2 cgroup rw,nsdelegate",
			want: MountInfo{Root: "/system.slice/docker-4f3c.scope", MountPoint: "/sys/fs/cgroup", FSType: "cgroup2", Source: "cgroup"},
		},
		{
			name: "two optional fields and an escaped space",
			line: `97 29 0:45 / /mnt/my\040disk rw,relatime shared:50 master:3 - vfat /dev/sdb1 rw,fmask=0022`,
			want: MountInfo{Root: "/", MountPoint: "/mnt/my disk", FSType: "vfat", Source: "/dev/sdb1"},
		},
		{
			name: "no source",
			line: "50 29 0:47 / /run/x rw - tmpfs",
			want: MountInfo{Root: "/", MountPoint: "/run/x", FSType: "tmpfs"},
		},
		{name: "no separator", line: "36 35 98:0 /mnt1 /mnt2 rw,noatime ext3 /dev/root rw", wantErr: true},
		{name: "separator but no type", line: "36 35 98:0 /mnt1 /mnt2 rw -", wantErr: true},
		{name: "too short", line: "36 35 - ext3", wantErr: true},
		{name: "empty", line: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMountinfoLine(tt.line)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseMountinfoLine(%q) = %+v, want an error", tt.line, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseMountinfoLine(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
		})
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:            "/plain",
		`/a\040b`:           "/a b",
		`/tab\011x\012y`:    "/tab\tx\ny",
		`/back\134slash`:    `/back\slash`,
		`/short\04`:         `/short\04`,
		`/not\999octal`:     `/not\999octal`,
		`/end\`:             `/end\`,
		`\040lead\040trail`: " lead trail",
	} {
		if got := UnescapeOctal(in); got != want {
			t.Errorf("UnescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

const (
	hybridMountinfo = `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	unifiedMountinfo = `24 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
26 24 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4019580k,nr_inodes=1004895,mode=755
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	containerMountinfo = `605 580 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
612 605 0:30 /system.slice/docker-4f3c.scope /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate
`
	v1Mountinfo = `31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
`
)

func TestCgroup2Dir(t *testing.T) {
	tests := []struct {
		name, mountinfo, group string
		mount, dir             string
		wantErr                string
	}{
		{name: "hybrid, root group", mountinfo: hybridMountinfo, group: "/",
			mount: "/sys/fs/cgroup/unified", dir: "/sys/fs/cgroup/unified"},
		{name: "unified, a user session", mountinfo: unifiedMountinfo, group: "/user.slice/user-1000.slice/session-3.scope",
			mount: "/sys/fs/cgroup", dir: "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"},
		{name: "container, its own group", mountinfo: containerMountinfo, group: "/system.slice/docker-4f3c.scope",
			mount: "/sys/fs/cgroup", dir: "/sys/fs/cgroup"},
		{name: "container, a group below its own", mountinfo: containerMountinfo, group: "/system.slice/docker-4f3c.scope/job",
			mount: "/sys/fs/cgroup", dir: "/sys/fs/cgroup/job"},
		{name: "container, a sibling group is not visible", mountinfo: containerMountinfo, group: "/system.slice/docker-4f3c.scope2",
			wantErr: "below no cgroup2 mount"},
		{name: "cgroup v1 only", mountinfo: v1Mountinfo, group: "/", wantErr: "cgroup v1 only"},
		{name: "a bad line", mountinfo: "garbage\n", group: "/", wantErr: "mountinfo line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount, dir, err := CgroupDir(tt.mountinfo, tt.group)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CgroupDir = %q, %q, %v; want an error with %q", mount, dir, err, tt.wantErr)
				}
				return
			}
			if err != nil || mount != tt.mount || dir != tt.dir {
				t.Fatalf("CgroupDir = %q, %q, %v; want %q, %q", mount, dir, err, tt.mount, tt.dir)
			}
		})
	}
}

func TestCgroupV2Group(t *testing.T) {
	tests := []struct {
		name, data, want string
		wantErr          bool
	}{
		{name: "hybrid", data: "9:name=systemd:/\n4:memory:/process_api/9d24\n1:cpu:/\n0::/\n", want: "/"},
		{name: "unified", data: "0::/user.slice/user-1000.slice/session-3.scope\n", want: "/user.slice/user-1000.slice/session-3.scope"},
		{name: "a colon in the path", data: "0::/odd:name\n", want: "/odd:name"},
		{name: "no final newline", data: "0::/a", want: "/a"},
		{name: "v1 only", data: "12:pids:/user.slice\n1:name=systemd:/user.slice\n", wantErr: true},
		{name: "hierarchy 0 with controllers is not v2", data: "0:cpu:/x\n", wantErr: true},
		{name: "empty", data: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CgroupV2Group(tt.data)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("CgroupV2Group(%q) = %q, %v; want %q (error: %v)", tt.data, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseMountinfoLine(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue")
	f.Add(`41 31 0:38 / /sys/fs/cgroup/un\040ified rw,relatime - cgroup2 cgroup2 rw`)
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMountinfoLine(line)
		if err == nil && m.FSType == "" {
			t.Fatalf("parsed %q without a filesystem type", line)
		}
	})
}

func FuzzCgroup(f *testing.F) {
	f.Add(hybridMountinfo, "0::/\n")
	f.Add(containerMountinfo, "0::/system.slice/docker-4f3c.scope/x\n")
	f.Fuzz(func(t *testing.T, mountinfo, self string) {
		group, err := CgroupV2Group(self)
		if err != nil {
			return
		}
		mount, dir, err := CgroupDir(mountinfo, group)
		if err == nil && !strings.HasPrefix(dir, strings.TrimSuffix(mount, "/")) {
			t.Fatalf("dir %q is not under mount %q", dir, mount)
		}
	})
}
