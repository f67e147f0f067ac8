package scheduler

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// These tests take over tables written as the Java KCL 3.x writes them
// (items built from its serializers' attribute names and types; see
// KCL-REFERENCE.md), on the emulators; they skip without them.

func avS(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }
func avN(n int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// javaTables is an application's tables as a Java KCL 3.x fleet left
// them: what was put, by table and key, to compare after a run.
type javaTables struct {
	h     *emuHarness
	items map[string]map[string]map[string]ddbtypes.AttributeValue // table -> key -> item
}

func (j *javaTables) leaseTable() string  { return j.h.app }
func (j *javaTables) workerTable() string { return j.h.app + "-WorkerMetricStats" }
func (j *javaTables) coordTable() string  { return j.h.app + "-CoordinatorState" }
func (j *javaTables) hashKey(table string) string {
	switch table {
	case j.workerTable():
		return kclschema.AttrWorkerID
	case j.coordTable():
		return kclschema.AttrCoordKey
	}
	return kclschema.AttrLeaseKey
}

func (j *javaTables) put(table, key string, item map[string]ddbtypes.AttributeValue) {
	j.h.t.Helper()
	item[j.hashKey(table)] = avS(key)
	if _, err := j.h.dc.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		j.h.t.Fatal(err)
	}
	if j.items[table] == nil {
		j.items[table] = map[string]map[string]ddbtypes.AttributeValue{}
	}
	j.items[table][key] = maps.Clone(item)
}

func (j *javaTables) get(table, key string) map[string]ddbtypes.AttributeValue {
	j.h.t.Helper()
	out, err := j.h.dc.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{j.hashKey(table): avS(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		j.h.t.Fatal(err)
	}
	return out.Item
}

func (j *javaTables) set(table, key, attr string, av ddbtypes.AttributeValue) {
	j.h.t.Helper()
	_, err := j.h.dc.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{j.hashKey(table): avS(key)}, UpdateExpression: aws.String("SET #a = :v"),
		ExpressionAttributeNames: map[string]string{"#a": attr}, ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": av}})
	if err != nil {
		j.h.t.Error(err)
	}
}

// unchanged fails the test for every item put that is no longer byte for
// byte as it was, except those of the keys listed in skip (per table).
func (j *javaTables) unchanged(skip map[string]bool) {
	j.h.t.Helper()
	for table, items := range j.items {
		for key, want := range items {
			if skip[key] {
				continue
			}
			if got := j.get(table, key); !reflect.DeepEqual(got, want) {
				j.h.t.Errorf("Java item %s/%s changed:\n got  %#v\n want %#v", table, key, got, want)
			}
		}
	}
}

// newJavaTables creates the three tables as the Java KCL does (the lease
// table by Shardwise's EnsureTable, whose schema is Java's) and fills them
// as a Java fleet of one worker, java-w1, leaves them: its leader lock,
// its migration-state item, its worker-metrics row (lut at lut), its
// KCL 3.5 single-table items in the lease table, and a lease per shard
// listed in leaseShards, at TRIM_HORIZON, owned by java-w1.
func newJavaTables(h *emuHarness, lut time.Time, leaseShards ...string) *javaTables {
	h.t.Helper()
	j := &javaTables{h: h, items: map[string]map[string]map[string]ddbtypes.AttributeValue{}}
	ctx := context.Background()
	st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: h.dc, TableName: j.leaseTable(), BillingMode: "PAY_PER_REQUEST", TableWaitTimeout: time.Minute})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := st.EnsureTable(ctx); err != nil {
		h.t.Fatal(err)
	}
	for _, t := range []struct{ name, key string }{{j.workerTable(), kclschema.AttrWorkerID}, {j.coordTable(), kclschema.AttrCoordKey}} {
		_, err := h.dc.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(t.name), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(t.key), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.key), KeyType: ddbtypes.KeyTypeHash}}})
		if err != nil {
			h.t.Fatal(err)
		}
		w := dynamodb.NewTableExistsWaiter(h.dc, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
		})
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)}, time.Minute); err != nil {
			h.t.Fatal(err)
		}
	}
	series := func(v ...int64) ddbtypes.AttributeValue {
		l := make([]ddbtypes.AttributeValue, len(v))
		for i, x := range v {
			l[i] = avN(x)
		}
		return &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"C": &ddbtypes.AttributeValueMemberL{Value: l}}}
	}
	j.put(j.coordTable(), "Leader", map[string]ddbtypes.AttributeValue{
		"ownerName": avS("java-w1"), "leaseDuration": avS("120000"), "recordVersionNumber": avS("0c6e2b52-0000-4000-8000-000000000001"),
	})
	j.put(j.coordTable(), "Migration3.0", map[string]ddbtypes.AttributeValue{
		"cv": avS("CLIENT_VERSION_3X"), "mb": avS("java-w1"), "mts": avN(1764000000),
		"h": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"cv": avS("CLIENT_VERSION_3X_WITH_ROLLBACK"), "mb": avS("java-w1"), "mts": avN(1763990000)}}}},
	})
	j.put(j.workerTable(), "java-w1", map[string]ddbtypes.AttributeValue{
		"lut": avN(lut.Unix()), "sts": series(12, 14, 13), "opr": series(100),
		"properties": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{}},
		"sup":        avN(1), "slu": avN(lut.Unix()), "entityType": avS(kclschema.EntityTypeWorkerMetrics),
	})
	// KCL 3.5's single-table mode keeps the same entities in the lease
	// table, told apart by entityType.
	j.put(j.leaseTable(), "Leader", map[string]ddbtypes.AttributeValue{
		"entityType": avS(kclschema.EntityTypeLeader), "ownerName": avS("java-w1"), "leaseDuration": avS("120000"),
		"recordVersionNumber": avS("0c6e2b52-0000-4000-8000-000000000002"),
	})
	j.put(j.leaseTable(), "java-w1", map[string]ddbtypes.AttributeValue{
		"entityType": avS(kclschema.EntityTypeWorkerMetrics), "lut": avN(lut.Unix()), "sts": series(12), "opr": series(100),
	})
	j.put(j.leaseTable(), "TableMigration", map[string]ddbtypes.AttributeValue{"entityType": avS("TABLE_MIGRATION"), "st": avS("COMPLETE")})
	for _, sh := range leaseShards {
		j.put(j.leaseTable(), sh, map[string]ddbtypes.AttributeValue{
			"leaseOwner": avS("java-w1"), "leaseCounter": avN(42), "checkpoint": avS("TRIM_HORIZON"), "checkpointSubSequenceNumber": avN(0),
			"ownerSwitchesSinceCheckpoint": avN(0), "entityType": avS(kclschema.EntityTypeLease), "throughputKBps": avN(0),
		})
	}
	return j
}

// javaLeases reads every lease item by the Java KCL's rules, failing the
// test for any item Java could not read.
func javaLeases(t *testing.T, h *emuHarness) map[string]kclschema.JavaLease {
	t.Helper()
	out := map[string]kclschema.JavaLease{}
	in := &dynamodb.ScanInput{TableName: aws.String(h.app), ConsistentRead: aws.Bool(true)}
	for {
		page, err := h.dc.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			l, ok, err := kclschema.JavaReadLease(item)
			if err != nil {
				t.Errorf("the Java KCL could not read %v: %v", item[kclschema.AttrLeaseKey], err)
				continue
			}
			if ok {
				out[l.LeaseKey] = l
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func (h *emuHarness) shardIDs() []string {
	h.t.Helper()
	out, err := h.kc.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(h.stream)})
	if err != nil {
		h.t.Fatal(err)
	}
	var ids []string
	for _, s := range out.Shards {
		ids = append(ids, aws.ToString(s.ShardId))
	}
	return ids
}

// TestEmulatorJavaTablesTakenOverAndRolledBack takes over an
// application's tables from a stopped Java KCL fleet, processes records,
// stops, and then reads the tables as the Java KCL would: the Java items
// are byte for byte as Java left them, every lease reads by Java's
// attribute rules (entityType LEASE on the lease Shardwise created,
// throughputKBps written), and a reader resuming at those checkpoints
// gets exactly the records written after them.
func TestEmulatorJavaTablesTakenOverAndRolledBack(t *testing.T) {
	h := newEmuHarness(t, 2)
	shards := h.shardIDs()
	// The Java fleet stopped an hour ago; it had a lease for the first
	// shard only (the second is Shardwise's to create).
	jt := newJavaTables(h, time.Now().Add(-time.Hour), shards[0])
	h.put(0, 1000, 50)

	j := &journal{}
	cfg := h.config("sw-1")
	cfg.JavaFleetCheckWindow = time.Second
	hh := &harness{t: t}
	stop := hh.start(cfg, factoryOf(j, "sw-1", nil))
	waitFor(t, 2*time.Minute, "1,000 records", func() bool { return j.count() >= 1000 })
	// A heartbeat has measured both leases' throughput, so the shutdown
	// checkpoints write it.
	waitFor(t, time.Minute, "throughput measured", func() bool {
		m := hh.sched.leaseKBps.Load()
		return m != nil && len(*m) == len(shards)
	})
	// The checkpoints after it write it.
	h.put(1000, 200, 50)
	waitFor(t, time.Minute, "1,200 records", func() bool { return j.count() >= 1200 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	checkOrder(t, ds)

	// Java's items: untouched (the lease it owned was taken over, as
	// migrating means).
	jt.unchanged(map[string]bool{shards[0]: true})
	if got := jt.get(jt.coordTable(), kclschema.CoordLeaderKey); got[kclschema.AttrCoordEpoch] == nil {
		t.Errorf("Shardwise's leader item is not under %q: %#v", kclschema.CoordLeaderKey, got)
	}

	// Rollback: the Java KCL reads every lease, at Shardwise's
	// checkpoints.
	last := map[string]consumer.ExtendedSequenceNumber{}
	for _, d := range ds {
		last[d.shard] = d.pos
	}
	jl := javaLeases(t, h)
	for _, sh := range shards {
		l, ok := jl[sh]
		if !ok {
			t.Fatalf("no lease for %s: %v", sh, jl)
		}
		if l.Checkpoint != last[sh].SequenceNumber || l.CheckpointSubSequenceNumber != last[sh].SubSequenceNumber || l.LeaseOwner != "" {
			t.Errorf("Java reads %s at %s/%d owned by %q; Shardwise checkpointed %v and released it", sh, l.Checkpoint, l.CheckpointSubSequenceNumber, l.LeaseOwner, last[sh])
		}
		if l.EntityType != kclschema.EntityTypeLease {
			t.Errorf("lease %s has entityType %q, want LEASE", sh, l.EntityType)
		}
		if l.ThroughputKBps == nil {
			t.Errorf("lease %s has no throughputKBps", sh)
		}
	}

	// A Java worker resumes after each checkpoint (AFTER_SEQUENCE_NUMBER)
	// and reads exactly the records written since.
	h.put(1200, 300, 50)
	resumed := 0
	for _, sh := range shards {
		it, err := h.kc.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String(h.stream), ShardId: aws.String(sh),
			ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: aws.String(jl[sh].Checkpoint)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.kc.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			c, _ := strconv.Atoi(string(r.Data)[strings.IndexByte(string(r.Data), ':')+1:])
			if c < 1200 {
				t.Errorf("resuming %s at Shardwise's checkpoint re-reads record %q", sh, r.Data)
			}
			resumed++
		}
	}
	if resumed != 300 {
		t.Fatalf("a Java worker resuming at Shardwise's checkpoints reads %d records, want the 300 new ones", resumed)
	}
}

// TestEmulatorRefusesLiveJavaFleet: with a Java worker running (its lock
// heartbeated with a new recordVersionNumber, its worker-metrics row's lut
// moving, as the Java KCL does), a Shardwise worker refuses to start and
// says why; it takes no lease and writes nothing. AllowLiveJavaFleet
// overrides it.
func TestEmulatorRefusesLiveJavaFleet(t *testing.T) {
	h := newEmuHarness(t, 2)
	shards := h.shardIDs()
	jt := newJavaTables(h, time.Now(), shards...)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the Java worker
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 2; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			jt.set(jt.coordTable(), "Leader", "recordVersionNumber", avS(fmt.Sprintf("0c6e2b52-0000-4000-8000-%012d", i)))
			jt.set(jt.workerTable(), "java-w1", "lut", avN(time.Now().Unix()))
		}
	}()
	stopJava := func() { cancel(); wg.Wait() }
	defer stopJava()

	cfg := h.config("sw-1")
	cfg.JavaFleetCheckWindow = 1500 * time.Millisecond
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, runCancel := context.WithTimeout(context.Background(), time.Minute)
	defer runCancel()
	err = s.Run(runCtx)
	if err == nil {
		t.Fatal("Run started beside a live Java fleet")
	}
	t.Logf("Run: %v", err)
	for _, want := range []string{"Java KCL fleet is still running", "recordVersionNumber", "java-w1", "AllowLiveJavaFleet"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	stopJava()
	// Nothing taken, nothing written but the Java worker's own writes.
	jt.unchanged(map[string]bool{"Leader": true, "java-w1": true})
	for _, sh := range shards {
		if got := jt.get(jt.leaseTable(), sh); !reflect.DeepEqual(got, jt.items[jt.leaseTable()][sh]) {
			t.Errorf("lease %s changed: %#v", sh, got)
		}
	}
	if got := jt.get(jt.workerTable(), "sw-1"); len(got) != 0 {
		t.Errorf("the refused worker registered: %#v", got)
	}

	// The override: the worker starts and takes the leases.
	cfg.AllowLiveJavaFleet = true
	j := &journal{}
	stop := h.start(cfg, factoryOf(j, "sw-1", nil))
	waitFor(t, time.Minute, "leases taken over", func() bool {
		all := javaLeases(t, h)
		return all[shards[0]].LeaseOwner == "sw-1" && all[shards[1]].LeaseOwner == "sw-1"
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestEmulatorOddLeaseItemSkipped: one lease item with an attribute of a
// type nobody writes there (its leaseCounter a string) is skipped, logged
// and counted, and left as it is; the other shards are processed, among
// them one whose lease the Java KCL's create path wrote with a numeric
// pendingCheckpointState (read leniently).
func TestEmulatorOddLeaseItemSkipped(t *testing.T) {
	h := newEmuHarness(t, 3)
	shards := h.shardIDs()
	jt := newJavaTables(h, time.Now().Add(-time.Hour), shards...)
	odd := jt.items[jt.leaseTable()][shards[0]]
	odd["leaseCounter"] = avS("42")
	jt.put(jt.leaseTable(), shards[0], odd)
	lenient := jt.items[jt.leaseTable()][shards[1]]
	lenient["pendingCheckpoint"] = avS("TRIM_HORIZON")
	lenient["pendingCheckpointSubSequenceNumber"] = avN(0)
	lenient["pendingCheckpointState"] = avN(0)
	jt.put(jt.leaseTable(), shards[1], lenient)
	h.put(0, 900, 60)
	mem := metrics.NewMemory(metrics.LevelDetailed)
	j := &journal{}
	cfg := h.config("sw-1")
	cfg.JavaFleetCheckWindow = 500 * time.Millisecond
	cfg.Metrics = mem
	stop := h.start(cfg, factoryOf(j, "sw-1", nil))
	// Every record of the two readable shards arrives: the odd item holds
	// nothing up.
	want := h.countRecords(shards[1]) + h.countRecords(shards[2])
	if want == 0 || want == 900 {
		t.Fatalf("%d of 900 records on the readable shards; the test needs some on each side", want)
	}
	waitFor(t, 2*time.Minute, "every record of the readable shards", func() bool { return j.count() >= want })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	perShard := map[string]int{}
	for _, d := range ds {
		perShard[d.shard]++
	}
	if perShard[shards[0]] != 0 || perShard[shards[1]] == 0 || perShard[shards[2]] == 0 {
		t.Fatalf("records delivered from the odd lease's shard %s", shards[0])
	}
	if n := mem.Sum(metricnames.MetricUnreadableLeaseItems, metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationRenewAllLeases},
		metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: "sw-1"}); n < 1 {
		t.Fatalf("%s = %v, want the odd item counted", metricnames.MetricUnreadableLeaseItems, n)
	}
	if got := jt.get(jt.leaseTable(), shards[0]); !reflect.DeepEqual(got, odd) {
		t.Fatalf("odd item rewritten:\n got  %#v\n want %#v", got, odd)
	}
}

// countRecords reads a shard from its start and counts its records.
func (h *emuHarness) countRecords(shard string) int {
	h.t.Helper()
	ctx := context.Background()
	it, err := h.kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(h.stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	iter := it.ShardIterator
	for range 20 {
		out, err := h.kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			h.t.Fatal(err)
		}
		n += len(out.Records)
		if len(out.Records) == 0 || out.NextShardIterator == nil {
			break
		}
		iter = out.NextShardIterator
	}
	return n
}
