package ddbstore

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

const msKey = "123456789012:orders:1700000000:shardId-000000000003"

// A multi-stream lease is written with the two attributes the Java KCL's
// multi-stream serializer adds; a single-stream one without them.
func TestLeaseItemMultiStreamAttributes(t *testing.T) {
	item := leaseItem(leases.Lease{Key: msKey, Checkpoint: consumer.TrimHorizon, ParentShardIDs: []string{"shardId-000000000001"}})
	if s, _ := item[kclschema.AttrStreamName].(*types.AttributeValueMemberS); s == nil || s.Value != "123456789012:orders:1700000000" {
		t.Errorf("streamName = %#v", item[kclschema.AttrStreamName])
	}
	if s, _ := item[kclschema.AttrShardID].(*types.AttributeValueMemberS); s == nil || s.Value != "shardId-000000000003" {
		t.Errorf("shardId = %#v", item[kclschema.AttrShardID])
	}
	if ss, _ := item[kclschema.AttrParentShardID].(*types.AttributeValueMemberSS); ss == nil || ss.Value[0] != "shardId-000000000001" {
		t.Errorf("parentShardId = %#v (must stay bare)", item[kclschema.AttrParentShardID])
	}
	single := leaseItem(leases.Lease{Key: "shardId-000000000003", Checkpoint: consumer.TrimHorizon})
	if _, ok := single[kclschema.AttrStreamName]; ok {
		t.Error("single-stream lease written with streamName")
	}
	if _, ok := single[kclschema.AttrShardID]; ok {
		t.Error("single-stream lease written with shardId")
	}
}

// javaMultiStreamItem is a lease as the Java KCL's
// DynamoDBMultiStreamLeaseSerializer writes it: every single-stream
// attribute plus streamName (the serialized stream identifier) and shardId.
func javaMultiStreamItem(key, stream, shard, checkpoint string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:                     avS(key),
		kclschema.AttrLeaseOwner:                   avS("java-worker-1"),
		kclschema.AttrLeaseCounter:                 &types.AttributeValueMemberN{Value: "17"},
		kclschema.AttrCheckpoint:                   avS(checkpoint),
		kclschema.AttrCheckpointSubSequenceNumber:  &types.AttributeValueMemberN{Value: "0"},
		kclschema.AttrOwnerSwitchesSinceCheckpoint: &types.AttributeValueMemberN{Value: "0"},
		kclschema.AttrParentShardID:                &types.AttributeValueMemberSS{Value: []string{"shardId-000000000000"}},
		kclschema.AttrStartingHashKey:              avS("0"),
		kclschema.AttrEndingHashKey:                avS("340282366920938463463374607431768211455"),
		kclschema.AttrStreamName:                   avS(stream),
		kclschema.AttrShardID:                      avS(shard),
	}
}

// A Java multi-stream lease is read, taken and checkpointed; its key,
// streamName and shardId survive every write, and a lease Shardwise
// creates in the table is one the Java serializer reads back (same
// attributes, same types).
func TestDynamoJavaMultiStreamItems(t *testing.T) {
	client := dynamoClient(t)
	table := uniqueTableName(t)
	s := newTestDynamoStore(t, client, table)
	mustEnsure(t, s)

	const seq = "49590338271490256608559692538361571095921575989136588898"
	rawPut(t, client, table, javaMultiStreamItem(msKey, "123456789012:orders:1700000000", "shardId-000000000003", seq))
	got := storesuite.MustGet(t, s, msKey)
	if got.Checkpoint.SequenceNumber != seq || got.Owner != "java-worker-1" || got.Counter != 17 || len(got.ParentShardIDs) != 1 || got.ParentShardIDs[0] != "shardId-000000000000" {
		t.Fatalf("read %+v", got)
	}
	taken := storesuite.MustTake(t, s, got, "go-worker-1")
	if _, err := s.Checkpoint(t.Context(), msKey, "go-worker-1", taken.Counter, consumer.ExtendedSequenceNumber{SequenceNumber: seq + "1"}); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	item := rawGet(t, client, table, msKey)
	for attr, want := range map[string]string{
		kclschema.AttrLeaseKey:   msKey,
		kclschema.AttrStreamName: "123456789012:orders:1700000000",
		kclschema.AttrShardID:    "shardId-000000000003",
		kclschema.AttrLeaseOwner: "go-worker-1",
		kclschema.AttrCheckpoint: seq + "1",
	} {
		if sv, _ := item[attr].(*types.AttributeValueMemberS); sv == nil || sv.Value != want {
			t.Errorf("after take and checkpoint, %s = %#v, want %q", attr, item[attr], want)
		}
	}

	// Created by Shardwise: the same attribute set as the Java item.
	child := "123456789012:orders:1700000000:shardId-000000000009"
	storesuite.MustCreate(t, s, leases.Lease{Key: child, Checkpoint: consumer.TrimHorizon, ParentShardIDs: []string{"shardId-000000000003"}, StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455"})
	created := rawGet(t, client, table, child)
	java := javaMultiStreamItem(child, "123456789012:orders:1700000000", "shardId-000000000009", "TRIM_HORIZON")
	delete(java, kclschema.AttrLeaseOwner) // created unowned
	for attr, want := range java {
		g, ok := created[attr]
		if !ok {
			t.Errorf("created lease lacks %s", attr)
			continue
		}
		if gt, wt := typeName(g), typeName(want); gt != wt {
			t.Errorf("created lease's %s is %s, Java writes %s", attr, gt, wt)
		}
	}
	for _, attr := range []string{kclschema.AttrStreamName, kclschema.AttrShardID} {
		if created[attr].(*types.AttributeValueMemberS).Value != java[attr].(*types.AttributeValueMemberS).Value {
			t.Errorf("created lease's %s = %#v, want %#v", attr, created[attr], java[attr])
		}
	}
}

func typeName(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberB:
		return "B"
	}
	return "?"
}
