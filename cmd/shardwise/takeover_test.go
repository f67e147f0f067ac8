package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/scheduler"
)

// TestJavaTakeoverThroughTheCommand is issue 15's migration story on one
// table, told through the command: a Java KCL fleet (its lease items as
// its serializer writes them, its lock-client Leader item, its
// worker-metrics rows, its Migration3.0 item) is running, simulated by a
// goroutine that heartbeats as Java does (a new recordVersionNumber on
// the lock, a new lut on its rows, its leases' counters renewed); check
// says LIVE and exits 1. The fleet stops; check says none and exits 0. A
// Shardwise worker runs and processes the stream; leases and workers show
// the takeover; Java's coordination items are byte for byte as Java left
// them. With -update the outputs are written to
// testdata/takeover-run.txt (the README's example of a real run).
func TestJavaTakeoverThroughTheCommand(t *testing.T) {
	env := emulator.Require(t)
	f := newFixture(t, "takeover")
	kc := emulator.KinesisClient(env.Kinesis)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := emulator.CreateStream(ctx, kc, f.app, 2); err != nil {
		t.Fatal(err)
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(f.app)})
	if err != nil {
		t.Fatal(err)
	}
	const records = 200
	putRecords(t, kc, f.app, records)

	// The Java fleet's items. The worker rows' lut is an hour back so
	// that, once the fleet stops, they are not fresh by the Java
	// leader's 60 s rule (the test does not wait a minute): the running
	// fleet shows itself by what changes.
	javaItems := map[string]map[string]types.AttributeValue{} // table/key -> item, as Java left it
	put := func(table, hashKey, key string, item map[string]types.AttributeValue) {
		item[hashKey] = s(key)
		putItem(t, f.client, table, item)
		javaItems[table+"/"+key] = item
	}
	series := func(v ...string) types.AttributeValue {
		l := make([]types.AttributeValue, len(v))
		for i, x := range v {
			l[i] = n(x)
		}
		return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{kclschema.MetricCPU: &types.AttributeValueMemberL{Value: l}}}
	}
	lut := time.Now().Add(-time.Hour).Unix()
	var javaWorkers []string
	for i, sh := range shards.Shards {
		owner := fmt.Sprintf("java-w%d", i+1)
		javaWorkers = append(javaWorkers, owner)
		put(f.app, kclschema.AttrLeaseKey, aws.ToString(sh.ShardId), map[string]types.AttributeValue{
			kclschema.AttrLeaseOwner: s(owner), kclschema.AttrLeaseCounter: n("42"),
			kclschema.AttrCheckpoint: s("TRIM_HORIZON"), kclschema.AttrCheckpointSubSequenceNumber: n("0"),
			kclschema.AttrOwnerSwitchesSinceCheckpoint: n("0"),
			kclschema.AttrStartingHashKey:              s(aws.ToString(sh.HashKeyRange.StartingHashKey)),
			kclschema.AttrEndingHashKey:                s(aws.ToString(sh.HashKeyRange.EndingHashKey)),
			kclschema.AttrEntityType:                   s(kclschema.EntityTypeLease), kclschema.AttrThroughputKBps: n("0"),
		})
		put(f.tables.workersTable, kclschema.AttrWorkerID, owner, map[string]types.AttributeValue{
			kclschema.AttrLastUpdate: n(strconv.FormatInt(lut, 10)), kclschema.AttrStats: series("12", "14", "13"),
			kclschema.AttrOperatingRange: series("100"), "properties": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		})
	}
	put(f.tables.coordTable, kclschema.AttrCoordKey, kclschema.CoordLegacyLeaderKey, map[string]types.AttributeValue{
		kclschema.AttrLockOwnerName: s("java-w1"), kclschema.AttrLockLeaseDuration: s("120000"),
		kclschema.AttrLockRecordVersion: s("0c6e2b52-0000-4000-8000-000000000000"),
	})
	put(f.tables.coordTable, kclschema.AttrCoordKey, kclschema.CoordJavaMigrationKey, map[string]types.AttributeValue{
		"cv": s("CLIENT_VERSION_3X"), "mb": s("java-w1"), "mts": n("1764000000"),
	})

	// The live Java fleet: every 200ms, the lock holder heartbeats the
	// lock, each worker writes its row and renews its lease.
	stopJava := make(chan struct{})
	var javaDone sync.WaitGroup
	javaDone.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 1; i <= 600; i++ { // bounded: two minutes at most
			select {
			case <-stopJava:
				return
			case <-tick.C:
			}
			updateItem(t, f.client, f.tables.coordTable, kclschema.AttrCoordKey, kclschema.CoordLegacyLeaderKey,
				"SET #a = :v", kclschema.AttrLockRecordVersion, s(fmt.Sprintf("0c6e2b52-0000-4000-8000-%012d", i)))
			for j, sh := range shards.Shards {
				updateItem(t, f.client, f.tables.workersTable, kclschema.AttrWorkerID, javaWorkers[j],
					"SET #a = :v", kclschema.AttrLastUpdate, n(strconv.FormatInt(lut+int64(i), 10)))
				updateItem(t, f.client, f.app, kclschema.AttrLeaseKey, aws.ToString(sh.ShardId),
					"ADD #a :v", kclschema.AttrLeaseCounter, n("1"))
			}
		}
	})
	stopFleet := sync.OnceFunc(func() { close(stopJava); javaDone.Wait() })
	defer stopFleet()

	var transcript strings.Builder
	step := func(wantCode int, args ...string) string {
		t.Helper()
		out, stderr, code := cli(t, args...)
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d: %s\n%s", strings.Join(args, " "), code, wantCode, stderr, out)
		}
		shown := make([]string, 0, len(args))
		for _, a := range args {
			shown = append(shown, strings.ReplaceAll(a, f.app, "orders"))
		}
		fmt.Fprintf(&transcript, "$ shardwise %s\n%s", strings.Join(shown, " "), strings.ReplaceAll(out, f.app, "orders"))
		if stderr != "" {
			fmt.Fprintf(&transcript, "%s(exit status %d)\n", strings.ReplaceAll(stderr, f.app, "orders"), code)
		}
		transcript.WriteString("\n")
		return out
	}

	// 1. The Java fleet is live: check says so and exits 1.
	out := step(exitError, "check", "-table", f.app, "-observe", "2s")
	for _, want := range []string{"Live Java fleet: LIVE", "recordVersionNumber", "lut", "leaseCounter", "LIVE Java KCL workers"} {
		if !strings.Contains(out, want) {
			t.Errorf("check on a live Java fleet lacks %q:\n%s", want, out)
		}
	}

	// 2. The fleet stops: check says none is live and exits 0.
	stopFleet()
	for key := range javaItems { // what Java left as it stopped
		if table, k, _ := strings.Cut(key, "/"); table != f.app {
			javaItems[key] = getItem(t, f.client, table, k)
		}
	}
	out = step(exitOK, "check", "-table", f.app, "-observe", "1s")
	if !strings.Contains(out, "Live Java fleet: none") || strings.Contains(out, "LIVE") {
		t.Errorf("check on a stopped Java fleet:\n%s", out)
	}

	// 3. A Shardwise worker takes over and processes the stream.
	var processed atomic.Int64
	sched, err := scheduler.New(scheduler.Config{
		ApplicationName: f.app, StreamName: f.app, WorkerID: "sw-1",
		KinesisClient: kc, DynamoDBClient: f.client,
		InitialPosition:      consumer.InitialPositionTrimHorizon,
		JavaFleetCheckWindow: time.Second, FailoverTime: 3 * time.Second,
		LeaseDiscoveryInterval: 500 * time.Millisecond, IdleTimeBetweenReads: 100 * time.Millisecond,
		ShutdownTimeout: 20 * time.Second,
	}, countingFactory{&processed})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- sched.Run(runCtx) }()
	defer func() {
		stopRun()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for processed.Load() < records || !allOwnedBy(t, f, "sw-1") {
		select {
		case err := <-runErr:
			runErr <- err
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: %d of %d records processed", processed.Load(), records)
		}
	}

	// 4. leases and workers show the takeover.
	out = step(exitOK, "leases", "-table", f.app)
	for _, sh := range shards.Shards {
		if got := row(out, aws.ToString(sh.ShardId)+" "); !strings.HasPrefix(got, aws.ToString(sh.ShardId)+" sw-1 ") {
			t.Errorf("lease row: %q", got)
		}
	}
	out = step(exitOK, "workers", "-table", f.app)
	for _, want := range []string{"(leader: sw-1)", "Java KCL leader lock (item Leader): held by java-w1"} {
		if !strings.Contains(out, want) {
			t.Errorf("workers lacks %q:\n%s", want, out)
		}
	}
	for _, w := range javaWorkers {
		if got := row(out, w+" "); !strings.Contains(got, "Java KCL metrics row, not a Shardwise worker") {
			t.Errorf("Java row %s: %q", w, got)
		}
	}
	if got := row(out, "sw-1 "); !strings.HasPrefix(got, "sw-1 2 ") {
		t.Errorf("sw-1: %q", got)
	}
	stopRun()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	runErr <- nil

	// 5. Java's coordination items are as Java left them.
	for key, want := range javaItems {
		table, k, _ := strings.Cut(key, "/")
		if table == f.app {
			continue // the leases were taken over, as migrating means
		}
		if got := getItem(t, f.client, table, k); !reflect.DeepEqual(got, want) {
			t.Errorf("Java item %s changed:\n got  %#v\n want %#v", key, got, want)
		}
	}
	t.Logf("\n%s", transcript.String())
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", "takeover-run.txt"), []byte(transcript.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func putRecords(t *testing.T, kc *kinesis.Client, stream string, count int) {
	t.Helper()
	entries := make([]ktypes.PutRecordsRequestEntry, 0, count)
	for i := range count {
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String("key-" + strconv.Itoa(i%20)), Data: []byte("order-" + strconv.Itoa(i))})
	}
	for attempt := 0; len(entries) > 0; attempt++ {
		if attempt == 20 {
			t.Fatalf("%d records not written", len(entries))
		}
		out, err := kc.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		var retry []ktypes.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				retry = append(retry, entries[i])
			}
		}
		entries = retry
	}
}

func updateItem(t *testing.T, client *dynamodb.Client, table, hashKey, key, expr, attr string, v types.AttributeValue) {
	_, err := client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{hashKey: s(key)}, UpdateExpression: aws.String(expr),
		ExpressionAttributeNames: map[string]string{"#a": attr}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": v}})
	if err != nil {
		t.Error(err)
	}
}

func getItem(t *testing.T, client *dynamodb.Client, table, key string) map[string]types.AttributeValue {
	t.Helper()
	hashKey := kclschema.AttrCoordKey
	if strings.HasSuffix(table, "-WorkerMetricStats") {
		hashKey = kclschema.AttrWorkerID
	}
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{hashKey: s(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return maps.Clone(out.Item)
}

// allOwnedBy reports whether every lease of f is owned by worker.
func allOwnedBy(t *testing.T, f *fixture, worker string) bool {
	t.Helper()
	scan, err := readLeaseTable(context.Background(), f.client, f.app)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range scan.leases {
		if l.Owner != worker {
			return false
		}
	}
	return len(scan.leases) > 0
}

// countingFactory makes processors that count records and checkpoint
// every batch.
type countingFactory struct{ n *atomic.Int64 }

func (c countingFactory) NewProcessor(string) consumer.Processor { return countingProcessor(c) }

type countingProcessor struct{ n *atomic.Int64 }

func (countingProcessor) Initialize(context.Context, consumer.InitializationInput) error { return nil }
func (p countingProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.n.Add(int64(len(in.Records)))
	return in.Checkpointer.Checkpoint(ctx)
}
func (countingProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}
func (countingProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}
func (countingProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}
