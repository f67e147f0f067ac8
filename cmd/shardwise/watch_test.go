package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fleetReading is a fleet of three workers: w1 and w2 busy, w3 draining;
// one lease finished, one moving from w2 to w1.
func fleetReading(hb1, hb2, hb3 int64) reading {
	return reading{
		leader: "w1",
		leases: []leases.Lease{
			{Key: "shardId-000000000000", Owner: "w1", Checkpoint: consumer.ShardEnd},
			{Key: "shardId-000000000001", Owner: "w1", Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "49650000000000000001"}},
			{Key: "shardId-000000000002", Owner: "w1", CheckpointOwner: "w2", Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "49650000000000000002"}},
			{Key: "shardId-000000000003", Owner: "w2", Checkpoint: consumer.TrimHorizon},
			{Key: "shardId-000000000004", Checkpoint: consumer.TrimHorizon},
		},
		workers: []leases.WorkerRecord{
			{ID: "w1", SessionID: "s1", Heartbeat: hb1, Stats: map[string][]float64{kclschema.MetricCPU: {30, 42}},
				LeaseLag: map[string]int64{"shardId-000000000001": 250, "shardId-000000000002": 1500}},
			{ID: "w2", SessionID: "s2", Heartbeat: hb2, Stats: map[string][]float64{kclschema.MetricCPU: {71}},
				LeaseLag: map[string]int64{"shardId-000000000003": 12000}},
			{ID: "w3", SessionID: "s3", Heartbeat: hb3, Draining: true},
		},
	}
}

func TestObserverJudgesHeartbeatsByItsOwnClock(t *testing.T) {
	o := newObserver(t0)
	s := o.observe(t0, fleetReading(5, 9, 1))
	for _, v := range s.workers {
		if v.moved || v.still != 0 {
			t.Errorf("first sight of %s: moved=%v still=%v", v.rec.ID, v.moved, v.still)
		}
		if got := workerState(v, 10*time.Second); got != map[string]string{"w1": "?", "w2": "?", "w3": "draining"}[v.rec.ID] {
			t.Errorf("%s first seen: state %s", v.rec.ID, got)
		}
	}
	// w1 beats; w2 does not, for 11 s; w3 restarts (a new session with
	// the same counter is a change too).
	o.observe(t0.Add(time.Second), fleetReading(6, 9, 1))
	r := fleetReading(6, 9, 1)
	r.workers[2].SessionID = "s3b"
	r.workers[2].Draining = false
	s = o.observe(t0.Add(11*time.Second), r)
	want := map[string]struct {
		still time.Duration
		state string
	}{
		"w1": {10 * time.Second, "stale"},
		"w2": {11 * time.Second, "stale"},
		"w3": {0, "live"},
	}
	for _, v := range s.workers {
		if w := want[v.rec.ID]; v.still != w.still || workerState(v, 10*time.Second) != w.state {
			t.Errorf("%s: still %v state %s, want %v %s", v.rec.ID, v.still, workerState(v, 10*time.Second), w.still, w.state)
		}
	}
	if len(s.handoffs) != 1 || s.handoffs[0] != (handoffView{"shardId-000000000002", "w2", "w1", 11 * time.Second}) {
		t.Errorf("hand-offs %+v", s.handoffs)
	}
	// The hand-off completes: it leaves the view, and one that starts
	// later counts from then.
	r = fleetReading(7, 10, 1)
	r.leases[2].CheckpointOwner = ""
	if s = o.observe(t0.Add(12*time.Second), r); len(s.handoffs) != 0 {
		t.Errorf("completed hand-off still shown: %+v", s.handoffs)
	}
	if s = o.observe(t0.Add(13*time.Second), fleetReading(7, 10, 1)); len(s.handoffs) != 1 || s.handoffs[0].pending != 0 {
		t.Errorf("new hand-off: %+v", s.handoffs)
	}
}

func TestRenderGolden(t *testing.T) {
	o := newObserver(t0)
	o.observe(t0, fleetReading(5, 9, 1))
	now := t0.Add(3500 * time.Millisecond)
	s := o.observe(t0.Add(2*time.Second), fleetReading(6, 9, 1))
	s = o.observe(now, fleetReading(6, 9, 1))
	s.app, s.leaseTable, s.at, s.watching, s.failover = "orders-consumer", "orders-consumer", now, now.Sub(t0), 10*time.Second
	s.errs = nil
	var out bytes.Buffer
	if err := render(&out, s); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "watch.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("render differs from %s (go test -update rewrites it):\n%s", golden, out.String())
	}
	// The README's "Watching the fleet" shows this frame.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+string(want)+"```\n") {
		t.Errorf("README.md's sample frame differs from %s; copy it there", golden)
	}
}

func TestRenderShowsReadErrors(t *testing.T) {
	r := fleetReading(1, 1, 1)
	r.workers, r.workersErr = nil, context.DeadlineExceeded
	s := newObserver(t0).observe(t0, r)
	var out bytes.Buffer
	if err := render(&out, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "read failed: worker table: context deadline exceeded") || !strings.Contains(out.String(), "WORKERS 0") {
		t.Errorf("output:\n%s", out.String())
	}
}

// frames is a writer that calls onFrame after each frame written.
type frames struct {
	bytes.Buffer
	n       int
	onFrame func(n int)
}

func (f *frames) Write(p []byte) (int, error) {
	n, err := f.Buffer.Write(p)
	f.n++
	f.onFrame(f.n)
	return n, err
}

func TestWatchAgainstDynamoDB(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "watch")
	app, tb := f.app, f.tables
	fleet := fleetReading(0, 0, 0)
	for _, l := range fleet.leases {
		if _, err := f.leases.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	registered := map[string]leases.WorkerRecord{}
	for _, w := range fleet.workers {
		r, err := tb.workers.Register(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		registered[w.ID] = r
	}
	if _, err := tb.coordinator.ClaimLeader(ctx, 0, "w1", "s1"); err != nil {
		t.Fatal(err)
	}

	// After the first frame w1 beats (once); after the third the watch
	// ends.
	watchCtx, stop := context.WithTimeout(ctx, time.Minute)
	defer stop()
	out := &frames{onFrame: func(n int) {
		switch n {
		case 1:
			if _, err := tb.workers.Heartbeat(ctx, registered["w1"]); err != nil {
				t.Errorf("heartbeat: %v", err)
			}
		case 3:
			stop()
		}
	}}
	cfg := watchConfig{app: app, leaseTable: app, every: 10 * time.Millisecond, failover: 10 * time.Second, readTimeout: 10 * time.Second}
	if err := watch(watchCtx, out, tb.read, cfg); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, clearScreen) {
		t.Error("screen cleared though the output is not a terminal")
	}
	got := strings.Split(text, frameSeparator)
	if len(got) != 3 {
		t.Fatalf("%d frames, want 3:\n%s", len(got), text)
	}
	row := func(frame, prefix string) string {
		for _, line := range strings.Split(frame, "\n") {
			if strings.HasPrefix(line, prefix) {
				return strings.Join(strings.Fields(line), " ")
			}
		}
		t.Errorf("no line %q in frame:\n%s", prefix, frame)
		return ""
	}
	// w1's lag is the largest of its leases' (1.5s of 250ms and 1.5s), not their sum.
	for i, want := range []string{"w1 ? unchanged 0.0s 42 2 1.5s", "w1 live", "w1 live"} {
		if r := row(got[i], "w1 "); !strings.HasPrefix(r, want) {
			t.Errorf("frame %d: %q, want %q...", i+1, r, want)
		}
	}
	last := got[2]
	for prefix, want := range map[string]string{
		"w2 ":                   "w2 ? unchanged",
		"w3 ":                   "w3 draining",
		"shardId-000000000000 ": "shardId-000000000000 w1 SHARD_END - finished",
		"shardId-000000000001 ": "shardId-000000000001 w1 49650000000000000001 250ms assigned",
		"shardId-000000000003 ": "shardId-000000000003 w2 TRIM_HORIZON 12.0s assigned",
		"shardId-000000000004 ": "shardId-000000000004 - TRIM_HORIZON - unassigned",
	} {
		if r := row(last, prefix); !strings.HasPrefix(r, want) {
			t.Errorf("%q, want %q...", r, want)
		}
	}
	if !strings.Contains(last, "HAND-OFFS IN PROGRESS 1") || !strings.HasPrefix(row(last[strings.Index(last, "HAND-OFFS"):], "shardId-000000000002"), "shardId-000000000002 w2 w1") {
		t.Errorf("hand-off not shown:\n%s", last)
	}
	if !strings.Contains(last, "leader w1") {
		t.Errorf("leader not shown:\n%s", last)
	}
}

func TestWatchKeepsTheLastGoodReading(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	reads := 0
	read := func(context.Context) reading {
		reads++
		if reads == 1 {
			return fleetReading(1, 1, 1)
		}
		return reading{leaseErr: context.DeadlineExceeded, workersErr: context.DeadlineExceeded}
	}
	out := &frames{onFrame: func(n int) {
		if n == 2 {
			stop()
		}
	}}
	if err := watch(ctx, out, read, watchConfig{every: time.Millisecond, failover: time.Minute, readTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	frame := strings.Split(out.String(), frameSeparator)[1]
	for _, want := range []string{"read failed: lease table", "read failed: worker table", "WORKERS 3", "LEASES 5", "HAND-OFFS IN PROGRESS 1"} {
		if !strings.Contains(frame, want) {
			t.Errorf("second frame lacks %q:\n%s", want, frame)
		}
	}
}
