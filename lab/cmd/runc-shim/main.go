// Command runc-shim stands in front of runc for the offline lab's Docker
// engine. This sandbox's capability bounding set lacks some capabilities
// (CAP_SYS_RESOURCE among them), so runc fails to start privileged
// containers (kind nodes) with "unable to apply caps". The shim drops every
// capability outside the bounding set from the container's config.json
// (create/run) or process file (exec --process), then execs the real runc.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const realRunc = "/usr/sbin/runc"

// capNames are the Linux capabilities by number (capability.h).
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"}

func bounding() (map[string]bool, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil, err
			}
			allowed := map[string]bool{}
			for i, n := range capNames {
				if mask&(1<<uint(i)) != 0 {
					allowed["CAP_"+n] = true
				}
			}
			return allowed, nil
		}
	}
	return nil, fmt.Errorf("no CapBnd in /proc/self/status")
}

// filterCaps rewrites the capability sets of a process object in place.
func filterCaps(process map[string]any, allowed map[string]bool) {
	caps, ok := process["capabilities"].(map[string]any)
	if !ok {
		return
	}
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := []any{}
		for _, c := range list {
			if s, _ := c.(string); allowed[s] {
				kept = append(kept, c)
			}
		}
		caps[set] = kept
	}
}

func rewrite(path string, inConfig bool, allowed map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if inConfig {
		if p, ok := doc["process"].(map[string]any); ok {
			filterCaps(p, allowed)
		}
	} else {
		filterCaps(doc, allowed)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

func main() {
	args := os.Args[1:]
	allowed, err := bounding()
	if err == nil {
		cmd, bundle, process := "", "", ""
		for i := 0; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "--bundle" || a == "-b":
				if i+1 < len(args) {
					bundle = args[i+1]
				}
			case strings.HasPrefix(a, "--bundle="):
				bundle = strings.TrimPrefix(a, "--bundle=")
			case a == "--process" || a == "-p":
				if i+1 < len(args) {
					process = args[i+1]
				}
			case strings.HasPrefix(a, "--process="):
				process = strings.TrimPrefix(a, "--process=")
			case cmd == "" && (a == "create" || a == "run" || a == "exec"):
				cmd = a
			}
		}
		switch {
		case (cmd == "create" || cmd == "run") && bundle != "":
			err = rewrite(filepath.Join(bundle, "config.json"), true, allowed)
		case cmd == "exec" && process != "":
			err = rewrite(process, false, allowed)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runc-shim: %v\n", err)
	}
	if err := syscall.Exec(realRunc, append([]string{"runc"}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "runc-shim: exec %s: %v\n", realRunc, err)
		os.Exit(1)
	}
}
