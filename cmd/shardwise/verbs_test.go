package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

func TestBadInputExitsNonZero(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "usage: shardwise VERB"},
		{[]string{"frobnicate"}, exitUsage, `unknown verb "frobnicate"`},
		{[]string{"leases"}, exitUsage, "-table (or -app) is required"},
		{[]string{"leases", "-table"}, exitUsage, "flag needs an argument"},
		{[]string{"leases", "-table", "t", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"set-checkpoint", "-table", "t", "-shard", "s", "-to", "yesterday"}, exitUsage, `-to "yesterday"`},
		{[]string{"set-checkpoint", "-table", "t", "-shard", "s", "-to", "SHARD_END"}, exitUsage, "SHARD_END"},
		{[]string{"set-checkpoint", "-table", "t", "-shard", "s", "-to", "4965/x"}, exitUsage, "sub-sequence"},
		{[]string{"set-checkpoint", "-table", "t", "-to", "LATEST"}, exitUsage, "-shard is required"},
		{[]string{"set-checkpoint", "-table", "t", "-shard", "s"}, exitUsage, "-to is required"},
		{[]string{"import", "-table", "t", "-source-table", "u"}, exitUsage, "-from is required"},
		{[]string{"import", "-table", "t", "-source-table", "u", "-from", "kcl1"}, exitUsage, `-from "kcl1"`},
		{[]string{"import", "-table", "t", "-from", "vmware"}, exitUsage, "-source-table is required"},
		{[]string{"import", "-table", "t", "-from", "vmware", "-source-table", "u", "-initial-position", "AT_TIMESTAMP"}, exitUsage, "-initial-position"},
		{[]string{"watch", "-table", "t", "-every", "0s"}, exitUsage, "-every"},
	} {
		var out, errOut strings.Builder
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "set-checkpoint") {
		t.Errorf("help: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"import", "-h"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "-write") {
		t.Errorf("import -h: exit %d, %q", code, out.String())
	}
}

func TestParsePosition(t *testing.T) {
	for in, want := range map[string]consumer.ExtendedSequenceNumber{
		"TRIM_HORIZON": consumer.TrimHorizon,
		"LATEST":       consumer.Latest,
		"AT_TIMESTAMP": consumer.AtTimestamp,
		"49650000000000000000000000000000000000000000000000000001":   {SequenceNumber: "49650000000000000000000000000000000000000000000000000001"},
		"49650000000000000000000000000000000000000000000000000001/3": {SequenceNumber: "49650000000000000000000000000000000000000000000000000001", SubSequenceNumber: 3},
	} {
		got, err := parsePosition(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "latest", "-1", "12a", "SHARD_END", "1/-2", "TRIM_HORIZON/1"} {
		if _, err := parsePosition(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSplitLeaseKey(t *testing.T) {
	if st, sh := splitLeaseKey("123456789012:orders:1700000000:shardId-000000000001"); st != "123456789012:orders:1700000000" || sh != "shardId-000000000001" {
		t.Errorf("multi-stream key: %q, %q", st, sh)
	}
	for _, single := range []string{"shardId-000000000001", "a:b:c:d", "123456789012:orders:x:shardId-1", "123456789012::1:shardId-1"} {
		if st, sh := splitLeaseKey(single); st != "" || sh != single {
			t.Errorf("%q read as %q, %q", single, st, sh)
		}
	}
}

func TestMissingTableIsAnError(t *testing.T) {
	f := newFixture(t, "missing")
	_ = f
	for _, verb := range []string{"leases", "workers", "check", "watch"} {
		_, stderr, code := cli(t, verb, "-table", "no-such-table-"+f.app)
		if code != exitError || !strings.Contains(stderr, "table does not exist") {
			t.Errorf("%s: exit %d, stderr %q", verb, code, stderr)
		}
	}
	_, stderr, code := cli(t, "set-checkpoint", "-table", "no-such-table-"+f.app, "-shard", "s", "-to", "LATEST")
	if code != exitError || !strings.Contains(stderr, "table does not exist") {
		t.Errorf("set-checkpoint: exit %d, stderr %q", code, stderr)
	}
}

// seedLeases writes a small fleet: w1 with two leases (one finished), a
// lease owned by a Java worker id, one unassigned, a hand-off, and w1's
// worker record with lag.
func seedLeases(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	for _, l := range []leases.Lease{
		{Key: "shardId-000000000000", Owner: "w1", Checkpoint: consumer.ShardEnd, ChildShardIDs: []string{"shardId-000000000001"}},
		{Key: "shardId-000000000001", Owner: "w1", Counter: 7, Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "49650000000000000001", SubSequenceNumber: 2}, ParentShardIDs: []string{"shardId-000000000000"}},
		{Key: "shardId-000000000002", Owner: "java-host-1", Counter: 40, Checkpoint: consumer.TrimHorizon},
		{Key: "shardId-000000000003", Checkpoint: consumer.Latest},
		{Key: "shardId-000000000004", Owner: "w1", CheckpointOwner: "w2", Counter: 3, Checkpoint: consumer.TrimHorizon},
	} {
		if _, err := f.leases.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.tables.workers.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s1", Stats: map[string][]float64{kclschema.MetricCPU: {42}},
		LeaseLag: map[string]int64{"shardId-000000000001": 1500, "shardId-000000000004": 20}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tables.coordinator.ClaimLeader(ctx, 0, "w1", "s1"); err != nil {
		t.Fatal(err)
	}
}

func TestLeasesVerb(t *testing.T) {
	f := newFixture(t, "leases")
	seedLeases(t, f)
	// An odd item (pendingCheckpointState as a number, as the Java
	// serializer's create path writes it, next to a string checkpoint
	// counter) and a KCL 3.5 worker-metrics entity in the lease table.
	putItem(t, f.client, f.app, map[string]types.AttributeValue{
		kclschema.AttrLeaseKey: s("shardId-000000000009"), kclschema.AttrLeaseCounter: s("three"),
		kclschema.AttrCheckpoint: s("TRIM_HORIZON"),
	})
	putItem(t, f.client, f.app, map[string]types.AttributeValue{kclschema.AttrLeaseKey: s("worker-1"), kclschema.AttrEntityType: s("WORKER_METRIC_STATS")})

	out, stderr, code := cli(t, "leases", "-table", f.app)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for prefix, want := range map[string]string{
		"Lease table":           "Lease table " + f.app + ": 5 leases",
		"shardId-000000000000 ": "shardId-000000000000 w1 SHARD_END 0 - - shardId-000000000001 finished",
		"shardId-000000000001 ": "shardId-000000000001 w1 49650000000000000001/2 7 1.5s shardId-000000000000 - assigned",
		"shardId-000000000002 ": "shardId-000000000002 java-host-1 TRIM_HORIZON 40 - - - assigned",
		"shardId-000000000003 ": "shardId-000000000003 - LATEST 0 - - - unassigned",
		"shardId-000000000004 ": "shardId-000000000004 w1 TRIM_HORIZON 3 20ms - - hand-off from w2",
		"worker-1":              "worker-1 WORKER_METRIC_STATS",
		"shardId-000000000009":  "shardId-000000000009 lease \"shardId-000000000009\": attribute leaseCounter is *types.AttributeValueMemberS, want N",
	} {
		if got := row(out, prefix); got != want {
			t.Errorf("row %q:\n got %q\nwant %q", prefix, got, want)
		}
	}

	out, _, code = cli(t, "leases", "-table", f.app, "-json")
	var rep leasesReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if len(rep.Leases) != 5 || rep.Leases[1].LagMillis == nil || *rep.Leases[1].LagMillis != 1500 || len(rep.OddItems) != 1 || len(rep.Other) != 1 {
		t.Errorf("json: %+v", rep)
	}
}

func TestWorkersVerb(t *testing.T) {
	f := newFixture(t, "workers")
	seedLeases(t, f)
	out, stderr, code := cli(t, "workers", "-table", f.app)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "Workers: 2 (leader: w1)") {
		t.Errorf("header:\n%s", out)
	}
	if got := row(out, "w1 "); !strings.HasPrefix(got, "w1 2 42 0.0 1.5s 1 ") || !strings.HasSuffix(got, "alive? shardId-000000000001,shardId-000000000004") {
		t.Errorf("w1: %q", got)
	}
	if got := row(out, "java-host-1 "); got != "java-host-1 1 - 0.0 - - - not in worker table (Java worker or gone) shardId-000000000002" {
		t.Errorf("java-host-1: %q", got)
	}
	out, _, _ = cli(t, "workers", "-table", f.app, "-json")
	var rep workersReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Workers) != 2 || rep.Workers[0].InTable || !rep.Workers[1].InTable {
		t.Errorf("json %v: %+v", err, rep)
	}
}

// TestWatchVerbJSON reads frames until two have arrived, then stops the
// watch: a fixed -for once ran out, on a loaded machine, before the
// second frame (the first reading of three tables under -race can take
// most of it).
func TestWatchVerbJSON(t *testing.T) {
	f := newFixture(t, "watchjson")
	seedLeases(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	frames := &frameWriter{frames: make(chan []byte, 16)}
	var errOut strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-local", "-table", f.app, "-every", "100ms", "-json"}, frames, &errOut)
	}()
	var lines []string
	for len(lines) < 2 {
		select {
		case b := <-frames.frames:
			lines = append(lines, strings.TrimSpace(string(b)))
		case code := <-done:
			t.Fatalf("watch ended (exit %d) after %d frames: %s", code, len(lines), errOut.String())
		case <-ctx.Done():
			t.Fatalf("%d frames in 2 minutes", len(lines))
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, line := range lines {
		var fr watchFrame
		if err := json.Unmarshal([]byte(line), &fr); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if fr.Leader != "w1" || len(fr.Leases) != 5 || len(fr.Workers) != 1 || len(fr.Handoffs) != 1 || fr.Handoffs[0].Shard != "shardId-000000000004" {
			t.Errorf("frame: %+v", fr)
		}
	}
}

// frameWriter passes each write (watch writes a frame at once) to frames.
type frameWriter struct{ frames chan []byte }

func (w *frameWriter) Write(p []byte) (int, error) {
	select {
	case w.frames <- bytes.Clone(p):
	default: // the test has what it needs
	}
	return len(p), nil
}

func TestWorkersWithoutAWorkerTable(t *testing.T) {
	f := newFixture(t, "noworkers")
	seedLeases(t, f)
	out, stderr, code := cli(t, "workers", "-table", f.app, "-workers-table", "none-"+f.app)
	if code != 0 || !strings.Contains(out, "The worker table none-"+f.app+" does not exist.") || row(out, "w1 ") == "" {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
}
