package javafleet

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// fakeTables is an in-memory DynamoDB answering Scan (consistent, one
// page) over tables of items; a table not created answers
// ResourceNotFoundException, as DynamoDB does.
type fakeTables struct {
	mu     sync.Mutex
	tables map[string]map[string]map[string]types.AttributeValue // table -> key -> item
	scans  int
}

func newFake() *fakeTables {
	return &fakeTables{tables: map[string]map[string]map[string]types.AttributeValue{}}
}

func (f *fakeTables) put(table, key string, item map[string]types.AttributeValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tables[table] == nil {
		f.tables[table] = map[string]map[string]types.AttributeValue{}
	}
	f.tables[table][key] = maps.Clone(item)
}

func (f *fakeTables) set(table, key, attr string, av types.AttributeValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables[table][key][attr] = av
}

func (f *fakeTables) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	panic("Detect reads by Scan")
}

func (f *fakeTables) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans++
	t, ok := f.tables[*in.TableName]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "no table"}
	}
	out := &dynamodb.ScanOutput{}
	for _, item := range t {
		out.Items = append(out.Items, maps.Clone(item))
	}
	return out, nil
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

var tables = Tables{Leases: "app", WorkerMetrics: "app-WorkerMetricStats", Coordinator: "app-CoordinatorState"}

// javaFleet fills the tables as a running Java KCL 3.x fleet of one worker
// leaves them: its lock item, its worker-metrics row, two leases it owns,
// the migration item.
func javaFleet(f *fakeTables, lut time.Time) {
	f.put(tables.Coordinator, "Leader", map[string]types.AttributeValue{
		"key": s("Leader"), "ownerName": s("java-w1"), "leaseDuration": s("120000"), "recordVersionNumber": s("rvn-0"),
	})
	f.put(tables.Coordinator, "Migration3.0", map[string]types.AttributeValue{"key": s("Migration3.0"), "cv": s("CLIENT_VERSION_3x")})
	f.put(tables.WorkerMetrics, "java-w1", map[string]types.AttributeValue{"wid": s("java-w1"), "lut": n(lut.Unix())})
	for _, k := range []string{"shardId-000000000000", "shardId-000000000001"} {
		f.put(tables.Leases, k, map[string]types.AttributeValue{"leaseKey": s(k), "leaseOwner": s("java-w1"), "leaseCounter": n(7), "checkpoint": s("TRIM_HORIZON")})
	}
}

func TestNothingToWatchReturnsAtOnce(t *testing.T) {
	f := newFake()
	f.put(tables.Leases, "shardId-000000000000", map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000"), "leaseOwner": s("sw-1"), "leaseCounter": n(3)})
	f.put(tables.WorkerMetrics, "sw-1", map[string]types.AttributeValue{"wid": s("sw-1"), "sid": s("abc"), "hb": n(4)})
	start := time.Now()
	rep, err := Detect(context.Background(), f, tables, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Live || rep.WindowSeconds != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("a Shardwise-only table is watched or judged live: %+v", rep)
	}
	if rep.Found.ShardwiseWorkers != 1 || rep.Found.Leases != 1 || rep.Found.ForeignOwnedLeases != 0 {
		t.Fatalf("found = %+v", rep.Found)
	}
}

func TestStaleJavaItemsAreNotLive(t *testing.T) {
	f := newFake()
	javaFleet(f, time.Now().Add(-time.Hour))
	// The Java workers stopped an hour ago, but their leases still name
	// them: watched, nothing moves.
	rep, err := Detect(context.Background(), f, tables, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Live || len(rep.Evidence) != 0 {
		t.Fatalf("stale Java items judged live: %s", rep)
	}
	if rep.WindowSeconds < 0.3 {
		t.Fatalf("leases owned by non-Shardwise workers were not watched: window %v", rep.WindowSeconds)
	}
	want := Found{LeaderLock: "java-w1", LeaderLockTable: tables.Coordinator, JavaWorkerRows: 1, Leases: 2, ForeignOwnedLeases: 2,
		OtherItems: []string{"app-CoordinatorState/Migration3.0"}}
	if got := rep.Found; got.LeaderLock != want.LeaderLock || got.LeaderLockTable != want.LeaderLockTable || got.JavaWorkerRows != 1 ||
		got.Leases != 2 || got.ForeignOwnedLeases != 2 || strings.Join(got.OtherItems, ",") != strings.Join(want.OtherItems, ",") {
		t.Fatalf("found = %+v, want %+v", got, want)
	}
}

// TestLiveJavaFleetDetected simulates a running Java worker as the Java
// KCL behaves: its lock client heartbeats the lock item with a new
// recordVersionNumber, its worker-metrics row gets a new lut, its lease
// renewer bumps each lease's counter.
func TestLiveJavaFleetDetected(t *testing.T) {
	f := newFake()
	javaFleet(f, time.Now().Add(-2*time.Minute)) // not fresh: only change can tell
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := int64(1); ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			f.set(tables.Coordinator, "Leader", "recordVersionNumber", s("rvn-"+strconv.FormatInt(i, 10)))
			f.set(tables.WorkerMetrics, "java-w1", "lut", n(time.Now().Add(-2*time.Minute).Unix()+i))
			f.set(tables.Leases, "shardId-000000000001", "leaseCounter", n(7+i))
		}
	}()
	rep, err := Detect(ctx, f, tables, 500*time.Millisecond)
	cancel()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Live {
		t.Fatalf("live fleet not detected: %s", rep)
	}
	kinds := map[string]Evidence{}
	for _, e := range rep.Evidence {
		kinds[e.Kind] = e
	}
	for _, k := range []string{KindLeaderLock, KindWorkerMetrics, KindLeaseRenewal} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("no %s evidence in %s", k, rep)
		}
	}
	if e := kinds[KindLeaseRenewal]; e.Key != "shardId-000000000001" || e.Worker != "java-w1" || e.Table != tables.Leases {
		t.Errorf("lease evidence = %+v", e)
	}
	if e := kinds[KindLeaderLock]; e.Worker != "java-w1" || e.From != "rvn-0" {
		t.Errorf("lock evidence = %+v", e)
	}
	out := rep.String()
	t.Logf("report:\n%s", out)
	for _, want := range []string{"LIVE", "recordVersionNumber", "java-w1", "leaseCounter", "Migration3.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("String() lacks %q:\n%s", want, out)
		}
	}
	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || !back.Live || len(back.Evidence) != len(rep.Evidence) {
		t.Fatalf("JSON round trip: %v %+v\n%s", err, back, js)
	}
}

func TestFreshJavaRowIsLiveWithoutChange(t *testing.T) {
	f := newFake()
	f.put(tables.WorkerMetrics, "java-w2", map[string]types.AttributeValue{"wid": s("java-w2"), "lut": n(time.Now().Add(-10 * time.Second).Unix())})
	rep, err := Detect(context.Background(), f, tables, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Live || len(rep.Evidence) != 1 || rep.Evidence[0].Kind != KindWorkerMetrics || rep.Evidence[0].To != "" {
		t.Fatalf("a row updated 10s ago is not live evidence: %s", rep)
	}
}

func TestLeaseMovedToShardwiseIsNotJavaEvidence(t *testing.T) {
	f := newFake()
	f.put(tables.Leases, "shardId-000000000000", map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000"), "leaseOwner": s("gone-worker"), "leaseCounter": n(3)})
	f.put(tables.WorkerMetrics, "sw-1", map[string]types.AttributeValue{"wid": s("sw-1"), "sid": s("abc"), "hb": n(4)})
	go func() {
		time.Sleep(50 * time.Millisecond)
		f.set(tables.Leases, "shardId-000000000000", "leaseOwner", s("sw-1"))
		f.set(tables.Leases, "shardId-000000000000", "leaseCounter", n(4))
	}()
	rep, err := Detect(context.Background(), f, tables, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Live {
		t.Fatalf("a Shardwise worker taking a lease counted as a Java renewal: %s", rep)
	}
}

func TestSingleTableModeItems(t *testing.T) {
	f := newFake()
	f.put(tables.Leases, "Leader", map[string]types.AttributeValue{"leaseKey": s("Leader"), "entityType": s("LEADER"), "ownerName": s("java-w3"), "leaseDuration": s("120000"), "recordVersionNumber": s("r0")})
	f.put(tables.Leases, "java-w3", map[string]types.AttributeValue{"leaseKey": s("java-w3"), "entityType": s("WORKER_METRIC_STATS"), "lut": n(time.Now().Unix())})
	f.put(tables.Leases, "acct:stream:1:shardId-000000000000", map[string]types.AttributeValue{"leaseKey": s("acct:stream:1:shardId-000000000000"), "streamName": s("acct:stream:1"),
		"leaseOwner": s("java-w3"), "leaseCounter": n(1), "pendingCheckpointState": s("odd")})
	rep, err := Detect(context.Background(), f, Tables{Leases: tables.Leases, WorkerMetrics: "absent", Coordinator: "absent-too"}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Live || rep.Found.LeaderLock != "java-w3" || rep.Found.LeaderLockTable != tables.Leases || rep.Found.JavaWorkerRows != 1 ||
		!rep.Found.MultiStream || rep.Found.Leases != 1 {
		t.Fatalf("single-table Java items: %s %+v", rep, rep.Found)
	}
}
