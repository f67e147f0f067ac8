package coordinator

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPUSampler measures this process's container (or host) CPU utilization
// in percent of what it may use, from whichever source the host has:
// cgroup v2 (cpu.stat usage_usec, limited by cpu.max), cgroup v1
// (cpuacct.usage, limited by cpu.cfs_quota_us / cpu.cfs_period_us), or
// /proc/stat (the whole host).
type CPUSampler struct {
	source string
	own    bool // the figure is this worker's alone (a cgroup with a CPU limit)
	read   func() (busy, total time.Duration, err error)

	mu        sync.Mutex // guards the fields below
	lastBusy  time.Duration
	lastTotal time.Duration
	primed    bool
}

// NewCPUSampler picks the first source that works under root (normally
// "/"; tests point it at a fake tree).
func NewCPUSampler(root string) *CPUSampler {
	for _, src := range []struct {
		name string
		read func() (time.Duration, time.Duration, error)
		own  func() bool
	}{
		{"cgroup2", cgroupV2Reader(root), func() bool { return cgroupV2Limited(root) }},
		{"cgroup1", cgroupV1Reader(root), func() bool { return cgroupV1Limited(root) }},
		{"procstat", procStatReader(root), func() bool { return false }},
	} {
		if _, _, err := src.read(); err == nil {
			return &CPUSampler{source: src.name, read: src.read, own: src.own()}
		}
	}
	return &CPUSampler{source: "none", read: func() (time.Duration, time.Duration, error) {
		return 0, 0, errors.New("shardwise: no CPU source")
	}}
}

// Source names the source in use: cgroup2, cgroup1, procstat or none.
func (c *CPUSampler) Source() string { return c.source }

// Own reports whether the figure measures this worker alone: a cgroup
// with a CPU limit (cgroup v2 cpu.max, cgroup v1 CFS quota), which is a
// container or unit of its own. The host's figure (/proc/stat), or a
// cgroup without a limit (a login session, a service sharing its unit,
// several processes in one container), is shared with whatever else runs
// there: workers on one host report the same figure whatever they hold,
// so it cannot tell them apart, and the leader must not balance on it.
func (c *CPUSampler) Own() bool { return c.own }

// cgroupV2Limited reports whether cpu.max sets a quota.
func cgroupV2Limited(root string) bool {
	m, err := os.ReadFile(filepath.Join(root, "sys/fs/cgroup/cpu.max"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(m))
	if len(f) != 2 || f[0] == "max" {
		return false
	}
	q, err := strconv.ParseFloat(f[0], 64)
	return err == nil && q > 0
}

// cgroupV1Limited reports whether the CFS quota is set (-1 means none).
func cgroupV1Limited(root string) bool {
	q, err := readInt(filepath.Join(root, "sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
	return err == nil && q > 0
}

// Sample returns the utilization since the previous call, in percent
// (0-100), or -1 when it cannot be measured (no source, the first call, or
// no time passed).
func (c *CPUSampler) Sample() float64 {
	busy, total, err := c.read()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.primed = false
		return -1
	}
	db, dt := busy-c.lastBusy, total-c.lastTotal
	primed := c.primed
	c.lastBusy, c.lastTotal, c.primed = busy, total, true
	if !primed || dt <= 0 || db < 0 {
		return -1
	}
	return min(100, 100*float64(db)/float64(dt))
}

// cgroupV2Reader reads usage_usec and the cpu.max quota. "total" is the
// CPU time the cgroup could have used: wall time times its cores.
func cgroupV2Reader(root string) func() (time.Duration, time.Duration, error) {
	dir := filepath.Join(root, "sys/fs/cgroup")
	start := time.Now()
	return func() (time.Duration, time.Duration, error) {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return 0, 0, err
		}
		var usage int64 = -1
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "usage_usec" {
				usage, err = strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return 0, 0, err
				}
			}
		}
		if usage < 0 {
			return 0, 0, errors.New("shardwise: cpu.stat has no usage_usec")
		}
		cores := float64(runtime.NumCPU())
		if m, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
			f := strings.Fields(string(m))
			if len(f) == 2 && f[0] != "max" {
				q, err1 := strconv.ParseFloat(f[0], 64)
				p, err2 := strconv.ParseFloat(f[1], 64)
				if err1 == nil && err2 == nil && p > 0 && q > 0 {
					cores = min(cores, q/p)
				}
			}
		}
		return time.Duration(usage) * time.Microsecond, time.Duration(float64(time.Since(start)) * cores), nil
	}
}

// cgroupV1Reader reads cpuacct.usage (nanoseconds) and the CFS quota.
func cgroupV1Reader(root string) func() (time.Duration, time.Duration, error) {
	start := time.Now()
	return func() (time.Duration, time.Duration, error) {
		b, err := os.ReadFile(filepath.Join(root, "sys/fs/cgroup/cpuacct/cpuacct.usage"))
		if err != nil {
			return 0, 0, err
		}
		usage, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		cores := float64(runtime.NumCPU())
		q, errQ := readInt(filepath.Join(root, "sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
		p, errP := readInt(filepath.Join(root, "sys/fs/cgroup/cpu/cpu.cfs_period_us"))
		if errQ == nil && errP == nil && q > 0 && p > 0 {
			cores = min(cores, float64(q)/float64(p))
		}
		return time.Duration(usage), time.Duration(float64(time.Since(start)) * cores), nil
	}
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// procStatReader reads the host's aggregate "cpu" line in jiffies; the
// unit cancels out in the ratio.
func procStatReader(root string) func() (time.Duration, time.Duration, error) {
	return func() (time.Duration, time.Duration, error) {
		b, err := os.ReadFile(filepath.Join(root, "proc/stat"))
		if err != nil {
			return 0, 0, err
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		f := strings.Fields(string(line))
		if len(f) < 5 || f[0] != "cpu" {
			return 0, 0, errors.New("shardwise: unexpected /proc/stat")
		}
		var total, idle int64
		for i, s := range f[1:] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, 0, err
			}
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
		return time.Duration(total - idle), time.Duration(total), nil
	}
}
