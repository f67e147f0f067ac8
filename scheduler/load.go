package scheduler

import (
	"maps"
	"time"

	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// loadTracker turns the bytes each lease delivered into recent throughput
// figures for the heartbeat. Guarded by Scheduler.mu.
type loadTracker struct {
	last     time.Time
	lastByte map[string]int64   // lease key -> bytes delivered at the last sample
	kbps     map[string]float64 // lease key -> KB/s (EMA)
	cpu      []float64          // newest last, at most statsHistory
	total    []float64
	// lostReported is the lost-lease count already sent as a metric.
	lostReported int64
	// records processed at the last sample, and the EMA rate.
	lastRecords      int64
	recordsPerSecond float64
}

// statsHistory is how many samples each sts series keeps, as the Java KCL.
const statsHistory = 10

// throughputAlpha weighs the newest throughput sample (KCL uses 0.5).
const throughputAlpha = 0.5

// fillLoad is the session's Load callback: it samples CPU, per-lease
// throughput and per-lease lag, writes them into the heartbeat record and
// records the worker's lease and lag metrics.
func (s *Scheduler) fillLoad(r *leases.WorkerRecord) {
	cpu := -1.0 // unknown: the leader balances throughput and lease counts
	switch {
	case s.loadSample != nil:
		cpu = s.loadSample()
	case s.cpu.Own():
		cpu = s.cpu.Sample()
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.load
	if t.lastByte == nil {
		t.lastByte, t.kbps = map[string]int64{}, map[string]float64{}
	}
	elapsed := now.Sub(t.last).Seconds()
	live := make(map[string]bool, len(s.consumers))
	total := 0.0
	for key, c := range s.consumers {
		live[key] = true
		b := c.bytes.Load()
		if !t.last.IsZero() && elapsed > 0 {
			sample := float64(b-t.lastByte[key]) / 1024 / elapsed
			if prev, ok := t.kbps[key]; ok {
				sample = throughputAlpha*sample + (1-throughputAlpha)*prev
			}
			t.kbps[key] = sample
		} else if _, ok := t.kbps[key]; !ok {
			t.kbps[key] = 0
		}
		t.lastByte[key] = b
		total += t.kbps[key]
	}
	for key := range t.kbps {
		if !live[key] {
			delete(t.kbps, key)
			delete(t.lastByte, key)
		}
	}
	if recs := s.stats.recordsProcessed.Load(); !t.last.IsZero() && elapsed > 0 {
		rate := float64(recs-t.lastRecords) / elapsed
		t.recordsPerSecond = throughputAlpha*rate + (1-throughputAlpha)*t.recordsPerSecond
		t.lastRecords = recs
	} else {
		t.lastRecords = recs
	}
	t.last = now
	// Lag per lease: into the heartbeat (the larger of the two figures,
	// in milliseconds) and the metrics.
	r.LeaseLag = make(map[string]int64, len(s.consumers))
	var maxBehind int64
	var maxAge time.Duration
	for key, c := range s.consumers {
		behind, age := c.behind.Load(), c.lag.oldestUncheckpointedAge(now)
		r.LeaseLag[key] = max(behind, age.Milliseconds())
		maxBehind, maxAge = max(maxBehind, behind), max(maxAge, age)
		c.scope.Time(metricnames.MetricOldestUncheckpointedRecordAge, age, metrics.LevelDetailed)
	}
	s.workerScope.Value(metricnames.MetricMaxMillisBehindLatest, float64(maxBehind), metrics.UnitMilliseconds, metrics.LevelSummary)
	s.workerScope.Time(metricnames.MetricMaxOldestUncheckpointedRecordAge, maxAge, metrics.LevelSummary)
	s.workerScope.Value(metricnames.MetricCurrentLeases, float64(len(s.consumers)), metrics.UnitCount, metrics.LevelSummary)
	s.workerScope.Count(metricnames.MetricLostLeases, s.stats.leasesLost.Load()-t.lostReported, metrics.LevelSummary)
	t.lostReported = s.stats.leasesLost.Load()
	t.cpu = appendCapped(t.cpu, cpu)
	t.total = appendCapped(t.total, total)
	r.Stats = map[string][]float64{kclschema.MetricCPU: append([]float64(nil), t.cpu...), kclschema.MetricThroughput: append([]float64(nil), t.total...)}
	r.OperatingRange = map[string][]float64{kclschema.MetricCPU: {100}}
	r.LeaseThroughput = make(map[string]float64, len(t.kbps))
	for k, v := range t.kbps {
		r.LeaseThroughput[k] = v
	}
	kbps := maps.Clone(r.LeaseThroughput)
	s.leaseKBps.Store(&kbps)
}

// leaseThroughput is the lease store's Throughput hook: the lease's KB/s
// as the last heartbeat computed it from the bytes its processor was
// handed. It takes no lock, so a checkpoint never waits on the scheduler.
func (s *Scheduler) leaseThroughput(key string) (float64, bool) {
	m := s.leaseKBps.Load()
	if m == nil {
		return 0, false
	}
	v, ok := (*m)[key]
	return v, ok
}

// loadSignal says what the leader balances this worker on, and why, for
// the log line the worker writes once at start.
func (s *Scheduler) loadSignal() (signal, why string) {
	switch {
	case s.loadSample != nil:
		return "Config.LoadSampler", "a load figure of your own is sent as CPU"
	case s.cpu.Own():
		return "cpu", "this worker's cgroup has a CPU limit, so its CPU use is its own (" + s.cpu.Source() + ")"
	case s.cpu.Source() == "none":
		return "throughput and lease count", "no CPU figure on this host"
	}
	return "throughput and lease count", "the CPU figure (" + s.cpu.Source() + ") is the host's or an unlimited cgroup's, shared with other processes: workers on one host would all look alike; give each worker a cgroup with a CPU limit, or set Config.LoadSampler, to balance on CPU"
}

func appendCapped(xs []float64, x float64) []float64 {
	xs = append(xs, x)
	if len(xs) > statsHistory {
		xs = xs[len(xs)-statsHistory:]
	}
	return xs
}
