package launcher

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// The pure parsing behind cgroup tracking, shared with `ningen check`:
// no build tag, so it is tested on any platform.

// MountInfo is the part of one /proc/PID/mountinfo line the probe needs.
type MountInfo struct {
	Root       string // the mounted directory, relative to its filesystem's root
	MountPoint string
	FSType     string
	Source     string
}

// ParseMountinfoLine parses one line of /proc/PID/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The optional fields before "-" may be any in number; the kernel escapes
// space, tab, newline and backslash in paths as \ooo.
func ParseMountinfoLine(line string) (MountInfo, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+1 >= len(f) {
		return MountInfo{}, fmt.Errorf("mountinfo line %q: want 6 fields, optional fields, \"-\", a filesystem type", line)
	}
	m := MountInfo{Root: UnescapeOctal(f[3]), MountPoint: UnescapeOctal(f[4]), FSType: f[sep+1]}
	if sep+2 < len(f) {
		m.Source = UnescapeOctal(f[sep+2])
	}
	return m, nil
}

// UnescapeOctal undoes the kernel's \ooo escapes in /proc paths.
func UnescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// CgroupDir finds the directory of group (a 0:: path) under a cgroup2
// mount listed in mountinfo. A mount whose root is not "/" (a bind mount,
// a container's view) holds only the groups below that root.
func CgroupDir(mountinfo, group string) (mount, dir string, err error) {
	found := false
	for line := range strings.Lines(mountinfo) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := ParseMountinfoLine(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return "", "", err
		}
		if m.FSType != "cgroup2" {
			continue
		}
		found = true
		rel, ok := underRoot(group, m.Root)
		if ok {
			return m.MountPoint, path.Join(m.MountPoint, rel), nil
		}
	}
	if found {
		return "", "", fmt.Errorf("group %s is below no cgroup2 mount's root", group)
	}
	return "", "", errors.New("no cgroup2 mount in /proc/self/mountinfo: this host has cgroup v1 only")
}

// underRoot returns p relative to root, as an absolute path ("/" for
// root itself), if p is root or below it.
func underRoot(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// CgroupV2Group returns the path of the unified hierarchy's line, "0::PATH",
// in a /proc/PID/cgroup file.
func CgroupV2Group(data string) (string, error) {
	for line := range strings.Lines(data) {
		id, rest, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ":")
		ctrl, path, ok := strings.Cut(rest, ":")
		if id == "0" && ctrl == "" && ok {
			return path, nil
		}
	}
	return "", errors.New("no 0:: line in /proc/self/cgroup: this process is in no cgroup v2 group")
}
