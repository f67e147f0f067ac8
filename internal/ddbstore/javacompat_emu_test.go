package ddbstore

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// These tests need the DynamoDB emulator (dynalite); they skip without it.

func rawGetKey(t *testing.T, c awsapi.DynamoDB, table, attr, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{attr: avS(key)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// TestDynamoWorkerRegisterLeavesAJavaRow: a Shardwise worker whose id a
// Java KCL worker also used never overwrites the Java row; it is told why.
func TestDynamoWorkerRegisterLeavesAJavaRow(t *testing.T) {
	client := dynamoClient(t)
	table := uniqueTableName(t)
	ws, err := NewDynamoWorkerStore(client, table, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.EnsureTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	javaRow := map[string]types.AttributeValue{
		kclschema.AttrWorkerID: avS("host-1"), kclschema.AttrLastUpdate: avN(1765000000),
		kclschema.AttrStats: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"C": &types.AttributeValueMemberL{Value: []types.AttributeValue{avN(10)}}}},
	}
	rawPut(t, client, table, javaRow)
	_, err = ws.Register(t.Context(), leases.WorkerRecord{ID: "host-1", SessionID: "s1"})
	if !IsForeignWorker(err) {
		t.Fatalf("Register over a Java row: %v, want a foreign-worker error", err)
	}
	t.Logf("error: %v", err)
	if got := rawGetKey(t, client, table, kclschema.AttrWorkerID, "host-1"); !reflect.DeepEqual(got, javaRow) {
		t.Fatalf("Java row changed:\n got  %#v\n want %#v", got, javaRow)
	}
	// A Shardwise row of the same id is replaced, as before.
	if _, err := ws.Register(t.Context(), leases.WorkerRecord{ID: "host-2", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	if r, err := ws.Register(t.Context(), leases.WorkerRecord{ID: "host-2", SessionID: "s2"}); err != nil || r.SessionID != "s2" {
		t.Fatalf("re-register: %+v, %v", r, err)
	}
	list, err := ws.List(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != "host-2" {
		t.Fatalf("List = %+v, %v; want host-2 only", list, err)
	}
}

// TestDynamoLeaderItemBesideJavaLock: Shardwise's election uses its own
// key; the Java lock item and migration item stay byte for byte, and a
// leader item of an earlier Shardwise version under "Leader" is removed
// once its leader is gone, never a Java lock.
func TestDynamoLeaderItemBesideJavaLock(t *testing.T) {
	client := dynamoClient(t)
	table := uniqueTableName(t)
	cs, err := NewDynamoCoordinatorStore(client, table, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.EnsureTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	lock := map[string]types.AttributeValue{
		kclschema.AttrCoordKey: avS("Leader"), "ownerName": avS("java-w1"), "leaseDuration": avS("120000"), "recordVersionNumber": avS("5b3c0f0e-1"),
	}
	migration := map[string]types.AttributeValue{
		kclschema.AttrCoordKey: avS("Migration3.0"), "cv": avS("CLIENT_VERSION_3X"), "mb": avS("java-w1"), "mts": avN(1765000000),
	}
	rawPut(t, client, table, lock)
	rawPut(t, client, table, migration)
	ctx := t.Context()
	rec, err := cs.GetLeader(ctx)
	if err != nil || rec != (leases.LeaderRecord{}) {
		t.Fatalf("GetLeader beside a Java lock = %+v, %v; want no leader", rec, err)
	}
	rec, err = cs.ClaimLeader(ctx, 0, "sw-1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.ReleaseLeader(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got := rawGetKey(t, client, table, kclschema.AttrCoordKey, kclschema.CoordLeaderKey); got[kclschema.AttrCoordEpoch] == nil {
		t.Fatalf("Shardwise leader item not under %q: %#v", kclschema.CoordLeaderKey, got)
	}
	remaining, err := cs.RemoveLegacyLeader(ctx, func(_ context.Context, leader, session string) (bool, error) {
		t.Fatalf("asked whether %s holds a Java lock", leader)
		return false, nil
	})
	if err != nil || remaining {
		t.Fatalf("RemoveLegacyLeader with a Java lock = %v, %v; want nothing to do", remaining, err)
	}
	for key, want := range map[string]map[string]types.AttributeValue{"Leader": lock, "Migration3.0": migration} {
		if got := rawGetKey(t, client, table, kclschema.AttrCoordKey, key); !reflect.DeepEqual(got, want) {
			t.Fatalf("Java item %s changed:\n got  %#v\n want %#v", key, got, want)
		}
	}

	// An earlier Shardwise version's leader item: kept while its leader
	// runs, removed once it is gone.
	legacy := map[string]types.AttributeValue{kclschema.AttrCoordKey: avS("Leader"), "leader": avS("old-w"), "sid": avS("old-s"), "epoch": avN(9)}
	rawPut(t, client, table, legacy)
	remaining, err = cs.RemoveLegacyLeader(ctx, func(_ context.Context, leader, session string) (bool, error) {
		return leader == "old-w" && session == "old-s", nil
	})
	if err != nil || !remaining || rawGetKey(t, client, table, kclschema.AttrCoordKey, "Leader") == nil {
		t.Fatalf("legacy item of a running leader: remaining %v, err %v", remaining, err)
	}
	remaining, err = cs.RemoveLegacyLeader(ctx, func(context.Context, string, string) (bool, error) { return false, nil })
	if err != nil || remaining {
		t.Fatalf("legacy item of a gone leader: remaining %v, err %v", remaining, err)
	}
	if got := rawGetKey(t, client, table, kclschema.AttrCoordKey, "Leader"); len(got) != 0 {
		t.Fatalf("legacy item left: %#v", got)
	}
	// Nothing left: nothing to do, no question asked.
	if remaining, err := cs.RemoveLegacyLeader(ctx, nil); err != nil || remaining {
		t.Fatalf("no item: remaining %v, err %v", remaining, err)
	}
}
