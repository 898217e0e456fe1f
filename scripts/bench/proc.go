package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on Linux.
const clockTicks = 100

// process is one function process of the local stack.
type process struct {
	pid      int
	function string // the directory its bootstrap was built into: transfer, bot-ack…
}

// functionProcesses finds the bootstraps among the descendants of root: the processes the local
// stack started to run its functions, by the function they run.
func functionProcesses(root int) ([]process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			parent[pid] = st.ppid
		}
	}
	var out []process
	for pid := range parent {
		if !descends(pid, root, parent) {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Base(exe) != "bootstrap" {
			continue
		}
		out = append(out, process{pid: pid, function: filepath.Base(filepath.Dir(exe))})
	}
	return out, nil
}

func descends(pid, root int, parent map[int]int) bool {
	for range 64 {
		p, ok := parent[pid]
		if !ok || p <= 1 {
			return false
		}
		if p == root {
			return true
		}
		pid = p
	}
	return false
}

// stat is what bench reads of /proc/<pid>/stat.
type stat struct {
	ppid int
	cpu  time.Duration // utime + stime: every thread's, dead ones included
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: split after it.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return stat{ppid: ppid, cpu: time.Duration(utime+stime) * time.Second / clockTicks}, nil
}

// peakMemory is VmHWM, the process's peak resident set, in bytes.
func peakMemory(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// cpuByProcess reads each process's CPU time.
func cpuByProcess(procs []process) map[int]time.Duration {
	out := map[int]time.Duration{}
	for _, p := range procs {
		if st, err := readStat(p.pid); err == nil {
			out[p.pid] = st.cpu
		}
	}
	return out
}
