package coordinator

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCPUSamplerProcStat(t *testing.T) {
	root := t.TempDir()
	stat := filepath.Join(root, "proc/stat")
	// user nice system idle iowait irq softirq
	writeFile(t, stat, "cpu  100 0 100 700 100 0 0\ncpu0 1 2 3 4\n")
	c := NewCPUSampler(root)
	if c.Source() != "procstat" {
		t.Fatalf("source %q", c.Source())
	}
	if v := c.Sample(); v != -1 {
		t.Fatalf("first sample %v, want -1 (no interval yet)", v)
	}
	// +300 busy, +100 idle: 75%.
	writeFile(t, stat, "cpu  300 0 200 800 100 0 0\n")
	if v := c.Sample(); v != 75 {
		t.Fatalf("sample %v, want 75", v)
	}
}

func TestCPUSamplerPrefersCgroupV2(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "proc/stat"), "cpu  1 0 1 1 0 0 0\n")
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/cpu.stat"), "usage_usec 1000\nuser_usec 600\n")
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/cpu.max"), "50000 100000\n")
	c := NewCPUSampler(root)
	if c.Source() != "cgroup2" {
		t.Fatalf("source %q", c.Source())
	}
	c.Sample()
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/cpu.stat"), "usage_usec 1000\n")
	if v := c.Sample(); v < 0 || v > 1 {
		t.Fatalf("idle cgroup sample %v, want about 0", v)
	}
}

func TestCPUSamplerCgroupV1AndNone(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/cpuacct/cpuacct.usage"), "5000\n")
	if c := NewCPUSampler(root); c.Source() != "cgroup1" {
		t.Fatalf("source %q", c.Source())
	}
	empty := NewCPUSampler(t.TempDir())
	if empty.Source() != "none" || empty.Sample() != -1 {
		t.Fatalf("no source: %q %v", empty.Source(), empty.Sample())
	}
}

func TestCPUSamplerOnThisHost(t *testing.T) {
	c := NewCPUSampler("/")
	if c.Source() == "none" {
		t.Skip("this host exposes no CPU figures")
	}
	c.Sample()
	x := 0
	for i := 0; i < 5_000_000; i++ {
		x += i % 7
	}
	_ = x
	if v := c.Sample(); v < -1 || v > 100 {
		t.Fatalf("sample %v out of range", v)
	}
}
