package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Why thawing: a kind node runs containerd and runc inside it. With the
// systemd cgroup driver on cgroup v1, runc freezes a container's cgroup
// while it updates the device rules, and thaws it after. A node killed in
// between (an interrupted run deletes its cluster at any moment) leaves
// that cgroup FROZEN: the runc in it sits in uninterruptible sleep, the
// kill never completes, and Docker gives up ("Container failed to exit
// within 10 seconds of kill"). Writing THAWED lets it die at once. Seen in
// the lab, which keeps a test of it (docs/testing.md: a frozen cgroup under
// a node being deleted).

// cgroupRoot is where the host's cgroup hierarchies are mounted; a variable
// so the unit tier can point it at a fake tree.
var cgroupRoot = "/sys/fs/cgroup"

// ThawContainer thaws every frozen cgroup at or under a running container's
// cgroups (cgroup v1 freezer.state, cgroup v2 cgroup.freeze) and returns the
// paths it thawed. A container that is not running has nothing to thaw.
func ThawContainer(ctx context.Context, container string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{.State.Pid}}", container).Output()
	if err != nil {
		return nil, fmt.Errorf("docker inspect %s: %w", container, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		return nil, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ThawUnder(parseProcCgroup(f))
}

// parseProcCgroup returns the directories of a /proc/<pid>/cgroup listing
// that can freeze: the v1 freezer hierarchy's and the v2 unified one's.
func parseProcCgroup(f *os.File) []string {
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[1] == "freezer":
			dirs = append(dirs, filepath.Join(cgroupRoot, "freezer", parts[2]))
		case parts[0] == "0" && parts[1] == "":
			// cgroup v2 (or the unified mount beside v1: it has no
			// cgroup.freeze there, so nothing is found under it).
			dirs = append(dirs, filepath.Join(cgroupRoot, parts[2]))
		}
	}
	return dirs
}

// ThawUnder thaws every frozen cgroup at or under the given directories,
// parents before children: in cgroup v1 a child of a frozen parent stays
// frozen whatever is written to it.
func ThawUnder(dirs []string) ([]string, error) {
	var files []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // the cgroup went away while we walked
				}
				return err
			}
			if d.Name() == "freezer.state" || d.Name() == "cgroup.freeze" {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return strings.Count(files[i], "/") < strings.Count(files[j], "/") })
	var thawed []string
	for _, path := range files {
		state, err := os.ReadFile(path)
		if err != nil {
			continue // gone since the walk
		}
		thaw := ""
		switch s := strings.TrimSpace(string(state)); {
		case filepath.Base(path) == "freezer.state" && s != "THAWED":
			thaw = "THAWED"
		case filepath.Base(path) == "cgroup.freeze" && s == "1":
			thaw = "0"
		}
		if thaw == "" {
			continue
		}
		if err := os.WriteFile(path, []byte(thaw), 0); err != nil {
			return thawed, fmt.Errorf("thawing %s: %w", filepath.Dir(path), err)
		}
		thawed = append(thawed, filepath.Dir(path))
	}
	return thawed, nil
}
