package scheduler

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/leasekey"
)

// javaMultiStreamLeaseItem builds a lease item the way the Java KCL's
// DynamoDBMultiStreamLeaseSerializer writes it: the single-stream
// serializer's attributes (leaseKey, leaseCounter, leaseOwner, checkpoint,
// checkpointSubSequenceNumber, ownerSwitchesSinceCheckpoint, the hash
// range; parentShardId only when there are parents) plus streamName (the
// serialized stream identifier) and shardId (the bare shard id).
func javaMultiStreamLeaseItem(st leasekey.Stream, shardID, owner, checkpoint, startHash, endHash string) map[string]ddbtypes.AttributeValue {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }
	return map[string]ddbtypes.AttributeValue{
		kclschema.AttrLeaseKey:                     s(leasekey.Format(st, shardID)),
		kclschema.AttrLeaseCounter:                 n("23"),
		kclschema.AttrLeaseOwner:                   s(owner),
		kclschema.AttrCheckpoint:                   s(checkpoint),
		kclschema.AttrCheckpointSubSequenceNumber:  n("0"),
		kclschema.AttrOwnerSwitchesSinceCheckpoint: n("0"),
		kclschema.AttrStartingHashKey:              s(startHash),
		kclschema.AttrEndingHashKey:                s(endHash),
		kclschema.AttrStreamName:                   s(st.String()),
		kclschema.AttrShardID:                      s(shardID),
	}
}

// A lease table written by a Java KCL multi-stream application (two
// streams, plus a lease of a stream the application no longer consumes)
// is taken over on kinesis-local and dynalite: every shard resumes after
// its Java checkpoint, and no item is deleted or has an attribute retyped;
// the foreign stream's item is not touched at all. In both retrieval
// modes: in fan-out mode each stream gets its own consumer.
func TestEmulatorJavaMultiStreamTakeover(t *testing.T) {
	bothModes(t, testEmulatorJavaMultiStreamTakeover)
}

func testEmulatorJavaMultiStreamTakeover(t *testing.T) {
	h := newEmuHarness(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	streamB := h.stream + "-b"
	if _, err := h.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(streamB), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(h.kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(streamB)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	ids := map[string]leasekey.Stream{}
	arns := map[string]string{}
	for _, name := range []string{h.stream, streamB} {
		out, err := h.kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		d := out.StreamDescriptionSummary
		a, err := arn.Parse(aws.ToString(d.StreamARN))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = leasekey.Stream{Account: a.AccountID, Name: name, CreationEpoch: d.StreamCreationTimestamp.Unix()}
		arns[name] = aws.ToString(d.StreamARN)
	}
	// Records 0..9 of every key before the Java checkpoints (at record 9
	// of the shard's last key written), 10..14 after.
	checkpoints := map[string]string{} // lease key -> Java checkpoint
	put := func(name string, from, to int) {
		for i := from; i < to; i++ {
			for k := 0; k < 6; k++ {
				pk := "p" + strconv.Itoa(k)
				out, err := h.kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(pk), Data: []byte(fmt.Sprintf("%s/%s:%d", name, pk, i))})
				if err != nil {
					t.Fatal(err)
				}
				if i == 9 {
					checkpoints[leasekey.Format(ids[name], aws.ToString(out.ShardId))] = aws.ToString(out.SequenceNumber)
				}
			}
		}
	}
	put(h.stream, 0, 10)
	put(streamB, 0, 10)

	store, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: h.dc, TableName: h.app, BillingMode: "PAY_PER_REQUEST", TableWaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	javaItems := map[string]map[string]ddbtypes.AttributeValue{}
	for _, name := range []string{h.stream, streamB} {
		shards, err := h.kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range shards.Shards {
			id := aws.ToString(sh.ShardId)
			cp, ok := checkpoints[leasekey.Format(ids[name], id)]
			if !ok {
				t.Fatalf("no record of %s landed on %s; choose other keys", name, id)
			}
			item := javaMultiStreamLeaseItem(ids[name], id, "java-worker-1", cp, aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey))
			javaItems[leasekey.Format(ids[name], id)] = item
		}
	}
	gone := leasekey.Stream{Account: ids[h.stream].Account, Name: "retired-stream", CreationEpoch: 1600000000}
	foreign := javaMultiStreamLeaseItem(gone, "shardId-000000000000", "java-worker-2", "49590338271490256608559692538361571095921575989136588898", "0", "340282366920938463463374607431768211455")
	javaItems[leasekey.Format(gone, "shardId-000000000000")] = foreign
	for _, item := range javaItems {
		if _, err := h.dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.app), Item: item}); err != nil {
			t.Fatal(err)
		}
	}

	j := newMSJournal()
	cfg := h.config("go-worker-1")
	cfg.StreamName = ""
	cfg.Streams = []StreamConfig{{Name: h.stream}, {Name: streamB}}
	cfg.ShardSyncInterval = time.Second
	hh := &harness{t: t}
	stop := hh.start(cfg, j.factory())
	put(h.stream, 10, 15)
	put(streamB, 10, 15)
	waitFor(t, 2*time.Minute, "every key's records after the checkpoints", func() bool {
		for _, name := range []string{h.stream, streamB} {
			for k := 0; k < 6; k++ {
				if !j.delivered(fmt.Sprintf("%s/p%d:14", name, k)) {
					return false
				}
			}
		}
		return true
	})
	// Two more shard syncs (each finds the retired stream's lease again),
	// so the vanished-lease cleanup has had its chance to misbehave.
	n := hh.sched.unknownLeases.Load()
	waitFor(t, time.Minute, "two more shard syncs", func() bool { return hh.sched.unknownLeases.Load() >= n+2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	j.mu.Lock()
	for payload := range j.data {
		_, c, _ := strings.Cut(payload, ":")
		if i, _ := strconv.Atoi(c); i <= 9 {
			t.Errorf("record %q at or before its shard's Java checkpoint was delivered", payload)
		}
	}
	for k, first := range j.first {
		if !strings.Contains(k, "|") {
			continue
		}
		streamARN, shard, _ := strings.Cut(k, "|")
		name := strings.TrimPrefix(streamARN[strings.LastIndex(streamARN, ":")+1:], "stream/")
		cp := checkpoints[leasekey.Format(ids[name], shard)]
		if consumer.Compare(first, consumer.ExtendedSequenceNumber{SequenceNumber: cp}) <= 0 {
			t.Errorf("%s: first delivery %s is not after the Java checkpoint %s", k, first.SequenceNumber, cp)
		}
	}
	for _, b := range j.bad {
		t.Error(b)
	}
	seenARN := map[string]bool{}
	for _, in := range j.inits {
		seenARN[in.StreamARN] = true
	}
	j.mu.Unlock()
	if !seenARN[arns[h.stream]] || !seenARN[arns[streamB]] {
		t.Errorf("processors were told streams %v, want %s and %s", seenARN, arns[h.stream], arns[streamB])
	}

	scan, err := h.dc.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(h.app), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	after := map[string]map[string]ddbtypes.AttributeValue{}
	for _, it := range scan.Items {
		after[it[kclschema.AttrLeaseKey].(*ddbtypes.AttributeValueMemberS).Value] = it
	}
	for key, before := range javaItems {
		got, ok := after[key]
		if !ok {
			t.Errorf("item %s was deleted", key)
			continue
		}
		for attr, av := range before {
			if _, ok := got[attr]; !ok && attr == kclschema.AttrLeaseOwner {
				continue // released at shutdown: Java removes leaseOwner too
			}
			if reflect.TypeOf(got[attr]) != reflect.TypeOf(av) {
				t.Errorf("item %s: %s is %T, Java wrote %T", key, attr, got[attr], av)
			}
		}
		for _, attr := range []string{kclschema.AttrStreamName, kclschema.AttrShardID, kclschema.AttrStartingHashKey, kclschema.AttrEndingHashKey} {
			if !reflect.DeepEqual(got[attr], before[attr]) {
				t.Errorf("item %s: %s changed from %v to %v", key, attr, before[attr], got[attr])
			}
		}
	}
	if !reflect.DeepEqual(after[leasekey.Format(gone, "shardId-000000000000")], foreign) {
		t.Errorf("the retired stream's item was touched: %v", after[leasekey.Format(gone, "shardId-000000000000")])
	}
}
