package coordinator

import (
	"path/filepath"
	"testing"
)

// TestCPUSamplerOwn: only a cgroup with a CPU limit measures this worker
// alone; the host's figure and an unlimited cgroup's are shared.
func TestCPUSamplerOwn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		src   string
		own   bool
	}{
		{"procstat", map[string]string{"proc/stat": "cpu  1 0 1 1 0 0 0\n"}, "procstat", false},
		{"cgroup2 without a limit", map[string]string{"sys/fs/cgroup/cpu.stat": "usage_usec 10\n", "sys/fs/cgroup/cpu.max": "max 100000\n"}, "cgroup2", false},
		{"cgroup2 without cpu.max", map[string]string{"sys/fs/cgroup/cpu.stat": "usage_usec 10\n"}, "cgroup2", false},
		{"cgroup2 limited", map[string]string{"sys/fs/cgroup/cpu.stat": "usage_usec 10\n", "sys/fs/cgroup/cpu.max": "200000 100000\n"}, "cgroup2", true},
		{"cgroup1 without a quota", map[string]string{"sys/fs/cgroup/cpuacct/cpuacct.usage": "5\n", "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n"}, "cgroup1", false},
		{"cgroup1 with a quota", map[string]string{"sys/fs/cgroup/cpuacct/cpuacct.usage": "5\n", "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000\n"}, "cgroup1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, body := range tc.files {
				writeFile(t, filepath.Join(root, p), body)
			}
			c := NewCPUSampler(root)
			if c.Source() != tc.src || c.Own() != tc.own {
				t.Fatalf("source %q own %v, want %q %v", c.Source(), c.Own(), tc.src, tc.own)
			}
		})
	}
}
