package ddbstore

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// itemsClient is a DynamoDB that answers Scan and GetItem from fixed items
// (one page), and records the UpdateItem and PutItem inputs it is sent,
// answering them with the item the test gives. Other calls panic (the
// embedded interface is nil), which shows a test relying on a call it did
// not expect.
type itemsClient struct {
	awsapi.DynamoDB
	mu      sync.Mutex
	items   []map[string]types.AttributeValue
	updates []*dynamodb.UpdateItemInput
	puts    []*dynamodb.PutItemInput
}

func (c *itemsClient) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &dynamodb.ScanOutput{}
	for _, it := range c.items {
		out.Items = append(out.Items, maps.Clone(it))
	}
	return out, nil
}

func (c *itemsClient) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range c.items {
		for k, v := range in.Key {
			if s, ok := it[k].(*types.AttributeValueMemberS); ok && s.Value == v.(*types.AttributeValueMemberS).Value {
				return &dynamodb.GetItemOutput{Item: maps.Clone(it)}, nil
			}
		}
	}
	return &dynamodb.GetItemOutput{}, nil
}

func (c *itemsClient) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updates = append(c.updates, in)
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{
		kclschema.AttrLeaseKey: avS("k"), kclschema.AttrLeaseCounter: avN(1), kclschema.AttrLeaseOwner: avS("w1"),
	}}, nil
}

func (c *itemsClient) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts = append(c.puts, in)
	return &dynamodb.PutItemOutput{}, nil
}

func unitStore(t *testing.T, c awsapi.DynamoDB, opts ...func(*DynamoConfig)) *DynamoStore {
	t.Helper()
	cfg := DynamoConfig{Client: c, TableName: "app", BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: time.Second,
		Logger: zerolog.New(zerolog.NewTestWriter(t))}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := NewDynamoStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func javaLeaseItem(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		kclschema.AttrLeaseKey: avS(key), kclschema.AttrLeaseOwner: avS("java-w1"), kclschema.AttrLeaseCounter: avN(12),
		kclschema.AttrCheckpoint: avS("49000000000000000000000000000000000000000000000000000007"), kclschema.AttrCheckpointSubSequenceNumber: avN(0),
		kclschema.AttrOwnerSwitchesSinceCheckpoint: avN(0), kclschema.AttrEntityType: avS(kclschema.EntityTypeLease),
	}
}

// TestListSkipsAnOddItem: one lease item with an attribute of a type
// nobody writes there is skipped, logged and counted; the other leases
// are listed (a listing that failed instead would wedge the initial shard
// sync and every assignment run).
func TestListSkipsAnOddItem(t *testing.T) {
	odd := javaLeaseItem("shardId-000000000001")
	odd[kclschema.AttrLeaseCounter] = avS("twelve")
	c := &itemsClient{items: []map[string]types.AttributeValue{javaLeaseItem("shardId-000000000000"), odd, javaLeaseItem("shardId-000000000002")}}
	mem := metrics.NewMemory(metrics.LevelDetailed)
	st := unitStore(t, c, func(cfg *DynamoConfig) { cfg.Metrics = mscope.New(mem) })
	got, err := st.List(t.Context())
	if err != nil {
		t.Fatalf("List failed on one odd item: %v", err)
	}
	var keys []string
	for _, l := range got {
		keys = append(keys, l.Key)
	}
	if !slices.Equal(keys, []string{"shardId-000000000000", "shardId-000000000002"}) {
		t.Fatalf("List = %v, want the two readable leases", keys)
	}
	if n := mem.Sum(metricnames.MetricUnreadableLeaseItems); n != 1 {
		t.Fatalf("%s = %v, want 1", metricnames.MetricUnreadableLeaseItems, n)
	}
	if CheckLeaseItem(odd) == nil || CheckLeaseItem(javaLeaseItem("x")) != nil {
		t.Fatal("CheckLeaseItem does not tell the odd item from a good one")
	}
}

// TestPendingStateAsNumberReadLeniently: the Java KCL's create path writes
// pendingCheckpointState as a number (its update path as bytes); such a
// lease is read, with no state, rather than skipped.
func TestPendingStateAsNumberReadLeniently(t *testing.T) {
	item := javaLeaseItem("shardId-000000000000")
	item[kclschema.AttrPendingCheckpoint] = avS("49000000000000000000000000000000000000000000000000000009")
	item[kclschema.AttrPendingCheckpointSubSequenceNumber] = avN(0)
	item[kclschema.AttrPendingCheckpointState] = avN(0)
	l, err := decodeLease(item)
	if err != nil {
		t.Fatalf("lease with a numeric pendingCheckpointState: %v", err)
	}
	if l.PendingCheckpoint.SequenceNumber == "" || l.PendingCheckpointState != nil {
		t.Fatalf("decoded %+v", l)
	}
	item[kclschema.AttrPendingCheckpointState] = &types.AttributeValueMemberB{Value: []byte("state")}
	if l, err = decodeLease(item); err != nil || string(l.PendingCheckpointState) != "state" {
		t.Fatalf("bytes state: %+v, %v", l, err)
	}
	item[kclschema.AttrPendingCheckpointState] = avS("neither")
	if _, err := decodeLease(item); err == nil {
		t.Fatal("a string pendingCheckpointState (written by nobody) was accepted")
	}
}

// TestJavaWorkerRowIsNotAWorker: a Java KCL worker's row in the
// worker-metrics table is never listed as a Shardwise worker (the leader
// would assign it leases no process answers to) nor found by Get.
func TestJavaWorkerRowIsNotAWorker(t *testing.T) {
	javaRow := map[string]types.AttributeValue{
		kclschema.AttrWorkerID: avS("java-w1"), kclschema.AttrLastUpdate: avN(time.Now().Unix()),
		kclschema.AttrStats:          &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"C": &types.AttributeValueMemberL{Value: []types.AttributeValue{avN(10)}}}},
		kclschema.AttrOperatingRange: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"C": &types.AttributeValueMemberL{Value: []types.AttributeValue{avN(100)}}}},
		"properties":                 &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		kclschema.AttrEntityType:     avS(kclschema.EntityTypeWorkerMetrics),
	}
	ours := workerItem(leases.WorkerRecord{ID: "sw-1", SessionID: "s1", Heartbeat: 3, LastUpdate: time.Now()})
	c := &itemsClient{items: []map[string]types.AttributeValue{javaRow, ours}}
	ws, err := NewDynamoWorkerStore(c, "app-WorkerMetricStats", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ws.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "sw-1" {
		t.Fatalf("List = %+v, want only the Shardwise worker", list)
	}
	if _, err := ws.Get(t.Context(), "java-w1"); !errors.Is(err, leases.ErrNotFound) || !IsForeignWorker(err) {
		t.Fatalf("Get of a Java row: %v, want ErrNotFound (foreign)", err)
	}
	// A row with a session but no heartbeat counter is not ours either.
	half := maps.Clone(javaRow)
	half[kclschema.AttrSessionID] = avS("x")
	if _, err := decodeWorker(half); !IsForeignWorker(err) {
		t.Fatalf("row without hb decoded: %v", err)
	}
}

var setClause = regexp.MustCompile(`(#a\d+) = (:v\d+)`)

// TestWritesFollowJavaAttributeRules: every lease item Shardwise creates,
// and every attribute its updates set, has the DynamoDB type the Java
// KCL's serializer reads, so a Java fleet rolled back to reads every lease
// Shardwise wrote. Creates carry entityType LEASE, as Java 3.5's do, and
// checkpoints write throughputKBps.
func TestWritesFollowJavaAttributeRules(t *testing.T) {
	full := leases.Lease{
		Key: "shardId-000000000003", Owner: "w1", Counter: 4, OwnerSwitchesSinceCheckpoint: 1,
		Checkpoint:             consumer.ExtendedSequenceNumber{SequenceNumber: "49000000000000000000000000000000000000000000000000000042", SubSequenceNumber: 3},
		PendingCheckpoint:      consumer.ExtendedSequenceNumber{SequenceNumber: "49000000000000000000000000000000000000000000000000000043", SubSequenceNumber: 1},
		PendingCheckpointState: []byte("app-state"), ParentShardIDs: []string{"shardId-000000000000", "shardId-000000000001"},
		ChildShardIDs: []string{"shardId-000000000004"}, StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455",
		ThroughputKBps: 12.25, CheckpointOwner: "w0",
	}
	for _, l := range []leases.Lease{full, {Key: "shardId-000000000009", Checkpoint: consumer.TrimHorizon}} {
		item := leaseItem(normalizeLease(l))
		j, ok, err := kclschema.JavaReadLease(item)
		if err != nil || !ok {
			t.Fatalf("Java rules refuse the created item of %s: %v", l.Key, err)
		}
		if j.EntityType != kclschema.EntityTypeLease {
			t.Errorf("%s created without entityType LEASE: %q", l.Key, j.EntityType)
		}
		if j.LeaseKey != l.Key || j.LeaseOwner != l.Owner || j.LeaseCounter != l.Counter || j.Checkpoint != l.Checkpoint.SequenceNumber ||
			j.CheckpointSubSequenceNumber != l.Checkpoint.SubSequenceNumber || j.PendingCheckpoint != l.PendingCheckpoint.SequenceNumber ||
			string(j.PendingCheckpointState) != string(l.PendingCheckpointState) || !slices.Equal(j.ParentShardIDs, l.ParentShardIDs) ||
			!slices.Equal(j.ChildShardIDs, l.ChildShardIDs) || j.StartingHashKey != l.StartingHashKey || j.EndingHashKey != l.EndingHashKey ||
			j.CheckpointOwner != l.CheckpointOwner || j.OwnerSwitchesSinceCheckpoint != l.OwnerSwitchesSinceCheckpoint {
			t.Errorf("Java reads %s as %+v", l.Key, j)
		}
		if (l.ThroughputKBps == 0) != (j.ThroughputKBps == nil) || (j.ThroughputKBps != nil && *j.ThroughputKBps != l.ThroughputKBps) {
			t.Errorf("throughputKBps of %s read by Java as %v", l.Key, j.ThroughputKBps)
		}
	}

	// Every update: the value set for each attribute has Java's type.
	c := &itemsClient{}
	st := unitStore(t, c, func(cfg *DynamoConfig) {
		cfg.Throughput = func(string) (float64, bool) { return 3.5, true }
	})
	ctx := t.Context()
	l := leases.Lease{Key: "k", Owner: "w1", Counter: 1}
	pos := consumer.ExtendedSequenceNumber{SequenceNumber: "49000000000000000000000000000000000000000000000000000042", SubSequenceNumber: 2}
	_, _ = st.Take(ctx, l, "w2")
	_, _ = st.Release(ctx, l)
	_, _ = st.StartHandoff(ctx, l, "w2")
	_, _ = st.CompleteHandoff(ctx, "k", "w1")
	_, _ = st.Checkpoint(ctx, "k", "w1", 1, pos)
	_, _ = st.PrepareCheckpoint(ctx, "k", "w1", 1, pos, []byte("s"))
	_, _ = st.SetChildShards(ctx, "k", "w1", 1, []string{"c1", "c2"})
	if len(c.updates) != 7 {
		t.Fatalf("%d updates sent, want 7", len(c.updates))
	}
	sawThroughput := false
	for _, in := range c.updates {
		set := *in.UpdateExpression
		if i := strings.Index(set, " REMOVE "); i >= 0 {
			set = set[:i]
		}
		item := map[string]types.AttributeValue{kclschema.AttrLeaseKey: avS("k")}
		for _, m := range setClause.FindAllStringSubmatch(set, -1) {
			item[in.ExpressionAttributeNames[m[1]]] = in.ExpressionAttributeValues[m[2]]
		}
		if _, _, err := kclschema.JavaReadLease(item); err != nil {
			t.Errorf("update %q sets a value Java cannot read: %v", *in.UpdateExpression, err)
		}
		if _, ok := item[kclschema.AttrThroughputKBps]; ok {
			sawThroughput = true
		}
	}
	if !sawThroughput {
		t.Error("no checkpoint wrote throughputKBps")
	}
}

func TestLegacyLeaderShape(t *testing.T) {
	for name, tc := range map[string]struct {
		item map[string]types.AttributeValue
		ok   bool
	}{
		"Shardwise held":      {map[string]types.AttributeValue{"key": avS("Leader"), "leader": avS("w1"), "sid": avS("s"), "epoch": avN(3)}, true},
		"Shardwise released":  {map[string]types.AttributeValue{"key": avS("Leader"), "epoch": avN(4)}, true},
		"Java lock":           {map[string]types.AttributeValue{"key": avS("Leader"), "ownerName": avS("j"), "leaseDuration": avS("120000"), "recordVersionNumber": avS("u")}, false},
		"Java lock and epoch": {map[string]types.AttributeValue{"key": avS("Leader"), "epoch": avN(1), "ownerName": avS("j"), "recordVersionNumber": avS("u")}, false},
		"absent":              {nil, false},
	} {
		if _, _, _, ok := legacyLeader(tc.item); ok != tc.ok {
			t.Errorf("%s: legacy = %v, want %v", name, ok, tc.ok)
		}
	}
}
