package scheduler

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// flakyWorkers is a worker store whose heartbeats fail while fail is set.
type flakyWorkers struct {
	leases.WorkerStore
	fail atomic.Bool
}

func (w *flakyWorkers) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if w.fail.Load() {
		return leases.WorkerRecord{}, errors.New("test: DynamoDB unreachable")
	}
	return w.WorkerStore.Heartbeat(ctx, r)
}

// syncBuffer is a log destination shared by the worker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func probe(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 100, 10)
	workers := &flakyWorkers{WorkerStore: h.workers}
	sink := metrics.NewMemory(metrics.LevelDetailed)
	cfg := h.config("w1")
	cfg.Stores.Workers = workers
	cfg.Metrics = sink
	cfg.StallTimeout = 300 * time.Millisecond
	var logs syncBuffer
	cfg.Logger = zerolog.New(&logs).Level(zerolog.InfoLevel)
	block := make(chan struct{})
	j := &journal{}
	s, err := New(cfg, factoryOf(j, "w1", func(p *testProcessor) { p.block = block }))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.HealthHandler())
	defer srv.Close()

	// Before Run: not ready, but alive (start-up is not a failure).
	if code, body := probe(t, srv, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "Run has not been called") {
		t.Errorf("/readyz before Run: %d %q", code, body)
	}
	if code, body := probe(t, srv, "/livez"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/livez before Run: %d %q", code, body)
	}
	if code, _ := probe(t, srv, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics: %d, want 404", code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-ran
		}
	}
	defer stop()

	// Ready once both leases run (their processors are blocked in
	// ProcessRecords, which is after Initialize).
	// Ready alone can come first: a worker holding no lease yet is ready.
	waitFor(t, 10*time.Second, "ready with both leases running", func() bool { return s.Ready() == nil && len(s.Stats().Leases) == 2 })
	if code, body := probe(t, srv, "/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz when ready: %d %q", code, body)
	}
	if code, body := probe(t, srv, "/readyz?verbose"); code != http.StatusOK || body != "[+]run ok\n[+]started ok\n[+]discovery ok\n[+]heartbeat ok\n[+]leases ok\nok\n" {
		t.Errorf("/readyz?verbose when ready: %d %q", code, body)
	}
	if st := s.Stats(); len(st.Leases) != 2 {
		t.Fatalf("ready with %d leases running, want 2", len(st.Leases))
	}

	// The processors hold their first batch: past StallTimeout the worker
	// is unhealthy, naming the shard.
	waitFor(t, 10*time.Second, "stall reported", func() bool {
		err := s.Healthy()
		return err != nil && strings.Contains(err.Error(), "stalled")
	})
	code, body := probe(t, srv, "/livez")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "shardwise: shard shardId-") || !strings.Contains(body, "stalled") {
		t.Errorf("/livez while stalled: %d %q", code, body)
	}
	code, body = probe(t, srv, "/livez?verbose")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "[+]heartbeat ok") || !strings.Contains(body, "[-]stall failed: shardwise: shard") {
		t.Errorf("/livez?verbose while stalled: %d %q", code, body)
	}
	// Lag while stalled: records fetched and not checkpointed, in Stats,
	// in the worker record's LeaseLag and in the metrics.
	st := s.Stats()
	for _, l := range st.Leases {
		if l.RecordsFetched > 0 && l.OldestUncheckpointedAge < cfg.StallTimeout {
			t.Errorf("%s: OldestUncheckpointedAge %v while its first batch has been held for over %v", l.ShardID, l.OldestUncheckpointedAge, cfg.StallTimeout)
		}
		if l.OldestUncheckpointedAge > st.MaxOldestUncheckpointedAge {
			t.Errorf("MaxOldestUncheckpointedAge %v below %s's %v", st.MaxOldestUncheckpointedAge, l.ShardID, l.OldestUncheckpointedAge)
		}
	}
	waitFor(t, 5*time.Second, "heartbeat carrying the lag", func() bool {
		r, err := h.workers.Get(context.Background(), "w1")
		if err != nil || len(r.LeaseLag) != 2 {
			return false
		}
		for _, lag := range r.LeaseLag {
			if lag < cfg.StallTimeout.Milliseconds() {
				return false
			}
		}
		return true
	})
	worker := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationRenewAllLeases), dim(metricnames.DimensionWorkerIdentifier, "w1")}
	waitFor(t, 5*time.Second, "MaxOldestUncheckpointedRecordAge metric", func() bool {
		return sink.Max(metricnames.MetricMaxOldestUncheckpointedRecordAge, worker...) >= float64(cfg.StallTimeout.Milliseconds())
	})
	for _, l := range st.Leases {
		shard := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationProcessTask), dim(metricnames.DimensionShardID, l.ShardID), dim(metricnames.DimensionWorkerIdentifier, "w1")}
		if sink.Count(metricnames.MetricOldestUncheckpointedRecordAge, shard...) == 0 {
			t.Errorf("%s: no OldestUncheckpointedRecordAge recorded", l.ShardID)
		}
	}
	if sink.Count(metricnames.MetricMaxMillisBehindLatest, worker...) == 0 {
		t.Error("no MaxMillisBehindLatest recorded")
	}

	// Released, the batches are handled and checkpointed: healthy again,
	// and nothing fetched is left uncheckpointed.
	close(block)
	waitFor(t, 10*time.Second, "healthy after the stall", func() bool { return s.Healthy() == nil })
	waitFor(t, 10*time.Second, "all records processed and checkpointed", func() bool {
		st := s.Stats()
		return j.count() == 100 && st.MaxOldestUncheckpointedAge == 0 && st.MaxMillisBehindLatest == 0
	})
	waitFor(t, 5*time.Second, "heartbeat with zero lag", func() bool {
		r, err := h.workers.Get(context.Background(), "w1")
		return err == nil && len(r.LeaseLag) == 2 && r.LeaseLag["shardId-000000000000"] == 0 && r.LeaseLag["shardId-000000000001"] == 0
	})

	// Heartbeats fail: past the fencing bound the worker is neither
	// healthy nor ready, and says why.
	workers.fail.Store(true)
	waitFor(t, 10*time.Second, "fenced", func() bool {
		err := s.Healthy()
		return err != nil && strings.Contains(err.Error(), "fenced")
	})
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "fenced") {
		t.Errorf("Ready while fenced: %v", err)
	}
	if code, body := probe(t, srv, "/livez"); code != http.StatusServiceUnavailable || !strings.Contains(body, "last successful heartbeat was sent") {
		t.Errorf("/livez while fenced: %d %q", code, body)
	}
	// Heartbeats succeed again: the worker re-takes its leases and is
	// healthy and ready.
	workers.fail.Store(false)
	waitFor(t, 10*time.Second, "healthy and ready after the fence", func() bool {
		return s.Healthy() == nil && s.Ready() == nil && len(s.Stats().Leases) == 2
	})

	stop()
	var lost, resumed int
	for _, line := range logs.lines() {
		switch {
		case field(line, "event") == "lost" && strings.HasPrefix(field(line, "reason"), "fenced"):
			lost++
		case field(line, "event") == "acquired" && strings.Contains(field(line, "reason"), "fenced and came back"):
			resumed++
		}
	}
	if lost != 2 || resumed != 2 {
		t.Errorf("fence: %d lease-lost and %d resumed lines naming it, want 2 and 2", lost, resumed)
	}
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("Ready after Run returned: %v", err)
	}
	if code, _ := probe(t, srv, "/livez"); code != http.StatusServiceUnavailable {
		t.Errorf("/livez after Run returned: %d", code)
	}
}

func TestStallCheckOff(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 2)
	cfg := h.config("w1")
	cfg.StallTimeout = -1
	block := make(chan struct{})
	blocked := make(chan struct{})
	stop := h.start(cfg, factoryOf(&journal{}, "w1", func(p *testProcessor) { p.block, p.blocked = block, blocked }))
	<-blocked
	time.Sleep(50 * time.Millisecond) // well past a 1ns timeout, had there been one
	if err := h.sched.Healthy(); err != nil {
		t.Errorf("Healthy with the stall check off: %v", err)
	}
	close(block)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseEventLogs checks the info lines of a lease's life — one per
// event, with the reason — and that a burst of one warning is rate-limited.
func TestLeaseEventLogs(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 20, 4)
	var buf syncBuffer
	cfg := h.config("w1")
	cfg.Logger = zerolog.New(&buf).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	j := &journal{}
	stop := h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "20 records", func() bool { return j.count() >= 20 })
	// A GetRecords outage on every shard: hundreds of failures in a
	// second at these backoffs, a bounded number of lines.
	failures := h.fake.Calls("GetRecords")
	h.fake.InjectError("GetRecords", "", errors.New("test: service unavailable"), -1)
	waitFor(t, 10*time.Second, "100 failed GetRecords calls", func() bool { return h.fake.Calls("GetRecords")-failures >= 100 })
	h.fake.ClearFaults()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	events := map[string][]string{} // lease -> events at info
	warnings := 0
	for _, line := range buf.lines() {
		if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "GetRecords failed") {
			warnings++
		}
		if !strings.Contains(line, `"level":"info"`) || !strings.Contains(line, `"event":`) {
			continue
		}
		lease := field(line, "lease")
		events[lease] = append(events[lease], field(line, "event"))
		if field(line, "reason") == "" {
			t.Errorf("lease event without a reason: %s", line)
		}
	}
	if warnings < 1 || warnings > 2 {
		t.Errorf("%d 'GetRecords failed' lines for a burst of >= 100 failures in under 10s, want 1 (2 if the run crossed the interval)", warnings)
	}
	for _, lease := range []string{"shardId-000000000000", "shardId-000000000001"} {
		// The leader's line (this worker leads), then this worker's.
		if got := strings.Join(events[lease], ","); got != "moved,acquired,released" {
			t.Errorf("%s: info events %q, want moved,acquired,released", lease, got)
		}
	}
	t.Logf("sample:\n%s", strings.Join(buf.lines()[:min(8, len(buf.lines()))], "\n"))
}

// field reads a string field of a zerolog JSON line.
func field(line, name string) string {
	_, rest, ok := strings.Cut(line, `"`+name+`":"`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
