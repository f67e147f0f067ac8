package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/coordinator"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// TestLoadSignal: a worker sends its CPU figure only when it measures
// that worker alone (a cgroup with a CPU limit) or comes from the user's
// LoadSampler; the host's figure, which every worker on the host shares,
// goes out as unknown (-1), so the leader balances throughput and lease
// counts. The worker says once, at start, which signal it uses.
func TestLoadSignal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		sampler func() float64
		signal  string
		wantCPU func(float64) bool
	}{
		{"host CPU", map[string]string{"proc/stat": "cpu  100 0 100 700 100 0 0\n"}, nil,
			"throughput and lease count", func(c float64) bool { return c == -1 }},
		{"unlimited cgroup", map[string]string{"sys/fs/cgroup/cpu.stat": "usage_usec 10\n", "sys/fs/cgroup/cpu.max": "max 100000\n"}, nil,
			"throughput and lease count", func(c float64) bool { return c == -1 }},
		{"limited cgroup", map[string]string{"sys/fs/cgroup/cpu.stat": "usage_usec 10\n", "sys/fs/cgroup/cpu.max": "100000 100000\n"}, nil,
			"cpu", func(c float64) bool { return c >= 0 }},
		{"LoadSampler wins", map[string]string{"proc/stat": "cpu  100 0 100 700 100 0 0\n"}, func() float64 { return 42 },
			"Config.LoadSampler", func(c float64) bool { return c == 42 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, body := range tc.files {
				writeTestFile(t, filepath.Join(root, p), body)
			}
			h := newHarness(t, 1)
			cfg := h.config("w1")
			var logs syncBuffer
			cfg.Logger = zerolog.New(&logs)
			cfg.LoadSampler = tc.sampler
			s, err := New(cfg, nopFactory())
			if err != nil {
				t.Fatal(err)
			}
			s.cpu = coordinator.NewCPUSampler(root)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() { cancel(); <-done }()
			var last float64
			waitFor(t, 10*time.Second, "two heartbeats with load figures", func() bool {
				r, err := h.workers.Get(context.Background(), "w1")
				cpu := r.Stats[kclschema.MetricCPU]
				if err != nil || len(cpu) < 2 {
					return false
				}
				last = cpu[len(cpu)-1]
				return true
			})
			if !tc.wantCPU(last) {
				t.Errorf("heartbeat CPU %v", last)
			}
			if n := strings.Count(strings.Join(logs.lines(), "\n"), `"load_signal"`); n != 1 {
				t.Errorf("%d log lines name the load signal, want 1", n)
			}
			if !strings.Contains(strings.Join(logs.lines(), "\n"), `"load_signal":"`+tc.signal+`"`) {
				t.Errorf("load signal is not %q: %s", tc.signal, strings.Join(logs.lines(), "\n"))
			}
		})
	}
}

func writeTestFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
