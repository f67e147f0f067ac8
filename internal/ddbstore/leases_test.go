package ddbstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

// The tests in this file need the DynamoDB emulator (dynalite); they skip
// without it. All tests share one emulator, so every table name is unique.

func TestDynamoStore(t *testing.T) {
	client := dynamoClient(t)
	storesuite.Leases(t, func(t *testing.T) leases.Store {
		return newTestDynamoStore(t, client, uniqueTableName(t))
	})
}

func dynamoClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	return emulator.DynamoDBClient(emulator.RequireDynamoDB(t).DynamoDB)
}

// uniqueTableName derives a valid table name from the test's name, with a
// random suffix so reruns against a long-lived emulator do not collide.
func uniqueTableName(t *testing.T) string {
	t.Helper()
	name := []byte(t.Name())
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			name[i] = '.'
		}
	}
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	return string(name) + "-" + hex.EncodeToString(suffix[:])
}

func newTestDynamoStore(t *testing.T, client awsapi.DynamoDB, table string, opts ...func(*DynamoConfig)) *DynamoStore {
	t.Helper()
	cfg := DynamoConfig{
		Client:           client,
		TableName:        table,
		BillingMode:      types.BillingModePayPerRequest,
		ScanPageSize:     7, // every listing spans pages
		TableWaitTimeout: 30 * time.Second,
		Logger:           zerolog.New(zerolog.NewTestWriter(t)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := NewDynamoStore(cfg)
	if err != nil {
		t.Fatalf("NewDynamoStore: %v", err)
	}
	return s
}

func mustEnsure(t *testing.T, s leases.Store) {
	t.Helper()
	if err := s.EnsureTable(t.Context()); err != nil {
		t.Fatalf("EnsureTable: %v", err)
	}
}

func rawGet(t *testing.T, c awsapi.DynamoDB, table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{kclschema.AttrLeaseKey: avS(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("raw GetItem(%s): %v", key, err)
	}
	return out.Item
}

func rawPut(t *testing.T, c awsapi.DynamoDB, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("raw PutItem: %v", err)
	}
}

// createRawTable makes a table the way another tool would and waits until
// it is ACTIVE.
func createRawTable(t *testing.T, c awsapi.DynamoDB, in *dynamodb.CreateTableInput) {
	t.Helper()
	if in.BillingMode == "" {
		in.BillingMode = types.BillingModePayPerRequest
	}
	if _, err := c.CreateTable(t.Context(), in); err != nil {
		t.Fatalf("raw CreateTable: %v", err)
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: in.TableName})
		if err == nil && out.Table.TableStatus == types.TableStatusActive {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("table %s not ACTIVE: %v", aws.ToString(in.TableName), err)
		case <-tick.C:
		}
	}
}

func leaseKeyTable(table string, billing types.BillingMode) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(kclschema.AttrLeaseKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: types.KeyTypeHash}},
		BillingMode:          billing,
	}
	if billing == types.BillingModeProvisioned {
		in.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)}
	}
	return in
}

func describeRaw(t *testing.T, c awsapi.DynamoDB, table string) *types.TableDescription {
	t.Helper()
	out, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable(%s): %v", table, err)
	}
	return out.Table
}

// avType names the DynamoDB type of av by its Go type.
func avType(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	}
	return fmt.Sprintf("%T", av)
}

// wantItem checks that item has exactly the attributes of want, each of
// the given type, and the given values where one is given ("" skips the
// value; SS values are compared as sorted, comma-separated lists).
func wantItem(t *testing.T, what string, item map[string]types.AttributeValue, want map[string][2]string) {
	t.Helper()
	for name, av := range item {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: unexpected attribute %s (%s)", what, name, avType(av))
			continue
		}
		if got := avType(av); got != w[0] {
			t.Errorf("%s: attribute %s is %s (%T), want %s", what, name, got, av, w[0])
			continue
		}
		if w[1] == "" {
			continue
		}
		var got string
		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			got = v.Value
		case *types.AttributeValueMemberN:
			got = v.Value
		case *types.AttributeValueMemberB:
			got = string(v.Value)
		case *types.AttributeValueMemberSS:
			got = strings.Join(slices.Sorted(slices.Values(v.Value)), ",")
		}
		if got != w[1] {
			t.Errorf("%s: attribute %s = %q, want %q", what, name, got, w[1])
		}
	}
	for name := range want {
		if _, ok := item[name]; !ok {
			t.Errorf("%s: attribute %s missing", what, name)
		}
	}
}

func TestDynamoItemFormat(t *testing.T) {
	client := dynamoClient(t)
	ctx := t.Context()
	table := uniqueTableName(t)
	s := newTestDynamoStore(t, client, table)
	mustEnsure(t, s)

	l := storesuite.OwnedLease(t, s, "shardId-000000000001", "worker-a")
	base := map[string][2]string{
		kclschema.AttrLeaseKey:                     {"S", "shardId-000000000001"},
		kclschema.AttrLeaseOwner:                   {"S", "worker-a"},
		kclschema.AttrLeaseCounter:                 {"N", "1"},
		kclschema.AttrCheckpoint:                   {"S", "TRIM_HORIZON"},
		kclschema.AttrCheckpointSubSequenceNumber:  {"N", "0"},
		kclschema.AttrOwnerSwitchesSinceCheckpoint: {"N", "1"},
		kclschema.AttrParentShardID:                {"SS", "shardId-000000000000"},
		kclschema.AttrStartingHashKey:              {"S", "0"},
		kclschema.AttrEndingHashKey:                {"S", "170141183460469231731687303715884105727"},
		kclschema.AttrEntityType:                   {"S", kclschema.EntityTypeLease},
	}
	wantItem(t, "taken lease", rawGet(t, client, table, l.Key), base)

	c, err := s.PrepareCheckpoint(ctx, l.Key, "worker-a", l.Counter, consumer.ExtendedSequenceNumber{SequenceNumber: "123", SubSequenceNumber: 2}, []byte("app-state"))
	if err != nil {
		t.Fatal(err)
	}
	prepared := withAttrs(base, map[string][2]string{
		kclschema.AttrLeaseCounter:                       {"N", "2"},
		kclschema.AttrPendingCheckpoint:                  {"S", "123"},
		kclschema.AttrPendingCheckpointSubSequenceNumber: {"N", "2"},
		kclschema.AttrPendingCheckpointState:             {"B", "app-state"},
	})
	wantItem(t, "prepared checkpoint", rawGet(t, client, table, l.Key), prepared)

	h, err := s.StartHandoff(ctx, storesuite.MustGet(t, s, l.Key), "worker-b")
	if err != nil {
		t.Fatal(err)
	}
	handoff := withAttrs(prepared, map[string][2]string{
		kclschema.AttrLeaseOwner:      {"S", "worker-b"},
		kclschema.AttrCheckpointOwner: {"S", "worker-a"},
		kclschema.AttrLeaseCounter:    {"N", "3"},
	})
	wantItem(t, "hand-off pending", rawGet(t, client, table, l.Key), handoff)

	if _, err := s.SetChildShards(ctx, l.Key, "worker-a", c, []string{"shardId-000000000003", "shardId-000000000002"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteHandoff(ctx, h.Key, "worker-a"); err != nil {
		t.Fatal(err)
	}
	done := withAttrs(handoff, map[string][2]string{
		kclschema.AttrChildShardIDs: {"SS", "shardId-000000000002,shardId-000000000003"},
		kclschema.AttrLeaseCounter:  {"N", "5"},
	})
	delete(done, kclschema.AttrCheckpointOwner)
	wantItem(t, "hand-off complete", rawGet(t, client, table, l.Key), done)

	if _, err := s.Checkpoint(ctx, l.Key, "worker-b", 5, consumer.ExtendedSequenceNumber{SequenceNumber: "124", SubSequenceNumber: 1}); err != nil {
		t.Fatal(err)
	}
	checkpointed := withAttrs(done, map[string][2]string{
		kclschema.AttrLeaseCounter:                 {"N", "6"},
		kclschema.AttrCheckpoint:                   {"S", "124"},
		kclschema.AttrCheckpointSubSequenceNumber:  {"N", "1"},
		kclschema.AttrOwnerSwitchesSinceCheckpoint: {"N", "0"},
	})
	delete(checkpointed, kclschema.AttrPendingCheckpoint)
	delete(checkpointed, kclschema.AttrPendingCheckpointSubSequenceNumber)
	delete(checkpointed, kclschema.AttrPendingCheckpointState)
	wantItem(t, "checkpointed", rawGet(t, client, table, l.Key), checkpointed)

	if _, err := s.Release(ctx, storesuite.MustGet(t, s, l.Key)); err != nil {
		t.Fatal(err)
	}
	released := withAttrs(checkpointed, map[string][2]string{kclschema.AttrLeaseCounter: {"N", "7"}})
	delete(released, kclschema.AttrLeaseOwner)
	wantItem(t, "released", rawGet(t, client, table, l.Key), released)

	storesuite.MustCreate(t, s, leases.Lease{Key: "with-throughput", ThroughputKBps: 3.5, Checkpoint: consumer.Latest})
	wantItem(t, "created with throughput", rawGet(t, client, table, "with-throughput"), map[string][2]string{
		kclschema.AttrLeaseKey:                     {"S", "with-throughput"},
		kclschema.AttrLeaseCounter:                 {"N", "0"},
		kclschema.AttrOwnerSwitchesSinceCheckpoint: {"N", "0"},
		kclschema.AttrCheckpoint:                   {"S", "LATEST"},
		kclschema.AttrCheckpointSubSequenceNumber:  {"N", "0"},
		kclschema.AttrThroughputKBps:               {"N", "3.5"},
		kclschema.AttrEntityType:                   {"S", kclschema.EntityTypeLease},
	})
}

// withAttrs returns a copy of base with over applied.
func withAttrs(base, over map[string][2]string) map[string][2]string {
	out := make(map[string][2]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func TestDynamoReadsJavaKCLItems(t *testing.T) {
	client := dynamoClient(t)
	ctx := t.Context()
	table := uniqueTableName(t)
	s := newTestDynamoStore(t, client, table)
	mustEnsure(t, s)

	const seqNo = "49590338271490256608559692538361571095921575989136588898"
	// As the Java KCL writes a lease, plus an attribute Shardwise does not
	// model (a newer KCL's, or the application's own).
	rawPut(t, client, table, map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:                     avS("shardId-000000000005"),
		kclschema.AttrLeaseOwner:                   avS("java-worker-1"),
		kclschema.AttrLeaseCounter:                 &types.AttributeValueMemberN{Value: "42"},
		kclschema.AttrCheckpoint:                   avS(seqNo),
		kclschema.AttrCheckpointSubSequenceNumber:  &types.AttributeValueMemberN{Value: "3"},
		kclschema.AttrOwnerSwitchesSinceCheckpoint: &types.AttributeValueMemberN{Value: "1"},
		kclschema.AttrParentShardID:                &types.AttributeValueMemberSS{Value: []string{"shardId-000000000002", "shardId-000000000001"}},
		kclschema.AttrStartingHashKey:              avS("0"),
		kclschema.AttrEndingHashKey:                avS("340282366920938463463374607431768211455"),
		"someFutureKclAttribute":                   &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": avS("keep me")}},
	})
	// A minimal item with neither counter nor owner-switch count.
	rawPut(t, client, table, map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:   avS("shardId-000000000006"),
		kclschema.AttrCheckpoint: avS("TRIM_HORIZON"),
	})

	want := leases.Lease{
		Key:                          "shardId-000000000005",
		Owner:                        "java-worker-1",
		Counter:                      42,
		Checkpoint:                   consumer.ExtendedSequenceNumber{SequenceNumber: seqNo, SubSequenceNumber: 3},
		OwnerSwitchesSinceCheckpoint: 1,
		ParentShardIDs:               []string{"shardId-000000000001", "shardId-000000000002"},
		StartingHashKey:              "0",
		EndingHashKey:                "340282366920938463463374607431768211455",
	}
	got := storesuite.MustGet(t, s, want.Key)
	storesuite.WantLease(t, "Java KCL lease", got, want)
	list := storesuite.MustList(t, s)
	if len(list) != 2 {
		t.Fatalf("List returned %d leases, want 2", len(list))
	}
	storesuite.WantLease(t, "Java KCL lease in List", list[0], want)
	storesuite.WantLease(t, "minimal lease in List", list[1], leases.Lease{Key: "shardId-000000000006", Checkpoint: consumer.TrimHorizon})

	// A Shardwise worker takes over and checkpoints; the attribute it does
	// not know survives both writes.
	taken := storesuite.MustTake(t, s, got, "go-worker-1")
	if taken.Counter != 43 || taken.OwnerSwitchesSinceCheckpoint != 2 {
		t.Fatalf("after Take: %+v", taken)
	}
	if _, err := s.Checkpoint(ctx, taken.Key, "go-worker-1", taken.Counter, consumer.ExtendedSequenceNumber{SequenceNumber: seqNo, SubSequenceNumber: 4}); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	item := rawGet(t, client, table, want.Key)
	keep, ok := item["someFutureKclAttribute"].(*types.AttributeValueMemberM)
	if !ok || !reflect.DeepEqual(keep.Value["x"], avS("keep me")) {
		t.Fatalf("unknown attribute not preserved: %#v", item["someFutureKclAttribute"])
	}
	if n := item[kclschema.AttrLeaseCounter].(*types.AttributeValueMemberN).Value; n != "44" {
		t.Fatalf("leaseCounter = %s, want 44", n)
	}

	// A lease without a counter reads as counter 0 and can be taken at 0.
	minimal := storesuite.MustGet(t, s, "shardId-000000000006")
	if minimal.Counter != 0 {
		t.Fatalf("minimal lease counter %d", minimal.Counter)
	}
	tm := storesuite.MustTake(t, s, minimal, "go-worker-1")
	if tm.Counter != 1 || tm.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("minimal lease after Take: %+v", tm)
	}
}

func TestDynamoSkipsNonLeaseItems(t *testing.T) {
	client := dynamoClient(t)
	ctx := t.Context()
	table := uniqueTableName(t)
	s := newTestDynamoStore(t, client, table)
	mustEnsure(t, s)

	metrics := map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:     avS("worker-1"),
		kclschema.AttrEntityType:   avS("WORKER_METRIC_STATS"),
		"lut":                      &types.AttributeValueMemberN{Value: "1700000000"},
		kclschema.AttrLeaseCounter: &types.AttributeValueMemberN{Value: "0"},
		"sts": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"C": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "12.5"}}},
		}},
	}
	leader := map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:   avS("Leader"),
		kclschema.AttrEntityType: avS("LEADER"),
		"ownerName":              avS("java-worker-1"),
	}
	rawPut(t, client, table, metrics)
	rawPut(t, client, table, leader)
	rawPut(t, client, table, map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:     avS("shardId-000000000001"),
		kclschema.AttrEntityType:   avS(kclschema.EntityTypeLease),
		kclschema.AttrLeaseCounter: &types.AttributeValueMemberN{Value: "3"},
		kclschema.AttrCheckpoint:   avS("LATEST"),
	})
	storesuite.MustCreate(t, s, storesuite.SampleLease("shardId-000000000002"))

	list := storesuite.MustList(t, s)
	var keys []string
	for _, l := range list {
		keys = append(keys, l.Key)
	}
	if !slices.Equal(keys, []string{"shardId-000000000001", "shardId-000000000002"}) {
		t.Fatalf("List keys = %q, want only the two leases", keys)
	}

	// No write reaches a non-lease item, even one that happens to carry a
	// leaseCounter matching the caller's.
	if _, err := s.Get(ctx, "worker-1"); !errors.Is(err, leases.ErrNotFound) {
		t.Errorf("Get of a worker-metrics item: %v, want ErrNotFound", err)
	}
	if _, err := s.Take(ctx, leases.Lease{Key: "worker-1"}, "go-worker"); !errors.Is(err, leases.ErrNotFound) {
		t.Errorf("Take of a worker-metrics item: %v, want ErrNotFound", err)
	}
	if _, err := s.Release(ctx, leases.Lease{Key: "worker-1"}); !errors.Is(err, leases.ErrNotFound) {
		t.Errorf("Release of a worker-metrics item: %v, want ErrNotFound", err)
	}
	if _, err := s.Checkpoint(ctx, "worker-1", "go-worker", 0, consumer.ShardEnd); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Errorf("Checkpoint of a worker-metrics item: %v, want ErrLeaseLost", err)
	}
	if err := s.Delete(ctx, "worker-1", 0); !errors.Is(err, leases.ErrConditionFailed) {
		t.Errorf("Delete of a worker-metrics item: %v, want ErrConditionFailed", err)
	}
	if created, err := s.Create(ctx, leases.Lease{Key: "Leader"}); created || err != nil {
		t.Errorf("Create over the leader item = %v, %v; want false, nil", created, err)
	}
	if got := rawGet(t, client, table, "worker-1"); !reflect.DeepEqual(got, metrics) {
		t.Errorf("worker-metrics item changed:\n got  %#v\n want %#v", got, metrics)
	}
	if got := rawGet(t, client, table, "Leader"); !reflect.DeepEqual(got, leader) {
		t.Errorf("leader item changed:\n got  %#v\n want %#v", got, leader)
	}

	// An explicit LEASE entity type is a lease, and survives a write.
	l := storesuite.MustTake(t, s, storesuite.MustGet(t, s, "shardId-000000000001"), "go-worker")
	if l.Counter != 4 {
		t.Fatalf("typed lease after Take: %+v", l)
	}
	if et := rawGet(t, client, table, l.Key)[kclschema.AttrEntityType]; !reflect.DeepEqual(et, avS(kclschema.EntityTypeLease)) {
		t.Fatalf("entityType after Take: %#v", et)
	}
}

func TestDynamoForeignKeySchema(t *testing.T) {
	client := dynamoClient(t)
	cases := map[string]*dynamodb.CreateTableInput{
		"id (N) HASH": {
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		},
		"leaseKey (N) HASH": {
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(kclschema.AttrLeaseKey), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: types.KeyTypeHash}},
		},
		"leaseKey (S) HASH, ts (N) RANGE": {
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(kclschema.AttrLeaseKey), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("ts"), AttributeType: types.ScalarAttributeTypeN},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("ts"), KeyType: types.KeyTypeRange},
			},
		},
	}
	for wantGot, in := range cases {
		t.Run(wantGot, func(t *testing.T) {
			t.Parallel()
			table := uniqueTableName(t)
			in.TableName = aws.String(table)
			createRawTable(t, client, in)
			hooked := &hookedDynamo{next: client}
			s := newTestDynamoStore(t, hooked, table)
			err := s.EnsureTable(t.Context())
			var se *leases.TableSchemaError
			if !errors.As(err, &se) {
				t.Fatalf("EnsureTable: %v, want a *TableSchemaError", err)
			}
			if se.Table != table || se.Got != wantGot || se.Want != "leaseKey (S) HASH" {
				t.Fatalf("TableSchemaError = %+v, want Got %q", se, wantGot)
			}
			if !strings.Contains(err.Error(), table) {
				t.Fatalf("error %q does not name the table", err)
			}
			if n := hooked.callCount("UpdateTable") + hooked.callCount("CreateTable"); n != 0 {
				t.Fatalf("EnsureTable changed a foreign table (%d calls)", n)
			}
		})
	}
}

func TestDynamoEnsureTableSeparateClients(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	table := uniqueTableName(t)
	const n = 8
	stores := make([]*DynamoStore, n)
	for i := range stores {
		stores[i] = newTestDynamoStore(t, emulator.DynamoDBClient(env.DynamoDB), table)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.EnsureTable(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("EnsureTable in process %d: %v", i, err)
		}
	}
	desc := describeRaw(t, emulator.DynamoDBClient(env.DynamoDB), table)
	if idx := findOwnerIndex(desc); idx == nil || !ownerIndexUsable(idx) {
		t.Fatalf("owner index missing or unusable: %+v", desc.GlobalSecondaryIndexes)
	}
	if desc.BillingModeSummary == nil || desc.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("billing mode %+v, want PAY_PER_REQUEST", desc.BillingModeSummary)
	}
	// Every process sees one table: what one creates, another reads.
	l := storesuite.OwnedLease(t, stores[0], "shardId-000000000001", "worker-0")
	storesuite.WantLease(t, "lease read by another process", storesuite.MustGet(t, stores[n-1], l.Key), l)
}

func TestDynamoProvisionedTable(t *testing.T) {
	client := dynamoClient(t)
	table := uniqueTableName(t)
	s := newTestDynamoStore(t, client, table, func(c *DynamoConfig) {
		c.BillingMode = types.BillingModeProvisioned
		c.ReadCapacity = 3
		c.WriteCapacity = 4
	})
	mustEnsure(t, s)
	desc := describeRaw(t, client, table)
	pt := desc.ProvisionedThroughput
	if pt == nil || aws.ToInt64(pt.ReadCapacityUnits) != 3 || aws.ToInt64(pt.WriteCapacityUnits) != 4 {
		t.Fatalf("table throughput %+v, want 3/4", pt)
	}
	idx := findOwnerIndex(desc)
	if idx == nil || idx.ProvisionedThroughput == nil || aws.ToInt64(idx.ProvisionedThroughput.ReadCapacityUnits) != 3 {
		t.Fatalf("owner index %+v, want provisioned 3/4", idx)
	}
}

func TestDynamoAddsMissingOwnerIndex(t *testing.T) {
	client := dynamoClient(t)
	for _, billing := range []types.BillingMode{types.BillingModePayPerRequest, types.BillingModeProvisioned} {
		t.Run(string(billing), func(t *testing.T) {
			t.Parallel()
			table := uniqueTableName(t)
			createRawTable(t, client, leaseKeyTable(table, billing)) // as an older KCL made it
			rawPut(t, client, table, map[string]types.AttributeValue{kclschema.AttrLeaseKey: avS("a"), kclschema.AttrLeaseOwner: avS("w1"), kclschema.AttrLeaseCounter: avN(1)})
			rawPut(t, client, table, map[string]types.AttributeValue{kclschema.AttrLeaseKey: avS("b"), kclschema.AttrLeaseOwner: avS("w2"), kclschema.AttrLeaseCounter: avN(1)})
			rawPut(t, client, table, map[string]types.AttributeValue{kclschema.AttrLeaseKey: avS("c"), kclschema.AttrLeaseOwner: avS("w1"), kclschema.AttrLeaseCounter: avN(1)})

			hooked := &hookedDynamo{next: client}
			s := newTestDynamoStore(t, hooked, table)
			mustEnsure(t, s)

			hooked.mu.Lock()
			reqs := slices.Clone(hooked.updateTables)
			hooked.mu.Unlock()
			if len(reqs) == 0 {
				t.Fatal("EnsureTable did not ask for the owner index")
			}
			in := reqs[0]
			if len(in.GlobalSecondaryIndexUpdates) != 1 || in.GlobalSecondaryIndexUpdates[0].Create == nil {
				t.Fatalf("UpdateTable input %+v, want one index Create", in)
			}
			cr := in.GlobalSecondaryIndexUpdates[0].Create
			if aws.ToString(cr.IndexName) != kclschema.OwnerIndexName || !reflect.DeepEqual(cr.KeySchema, ownerIndexKeySchema()) ||
				cr.Projection == nil || cr.Projection.ProjectionType != types.ProjectionTypeKeysOnly {
				t.Fatalf("index Create %+v", cr)
			}
			if (cr.ProvisionedThroughput != nil) != (billing == types.BillingModeProvisioned) {
				t.Fatalf("index throughput %+v on a %s table", cr.ProvisionedThroughput, billing)
			}
			if !slices.ContainsFunc(in.AttributeDefinitions, func(d types.AttributeDefinition) bool {
				return aws.ToString(d.AttributeName) == kclschema.AttrLeaseOwner && d.AttributeType == types.ScalarAttributeTypeS
			}) {
				t.Fatalf("attribute definitions %+v lack leaseOwner S", in.AttributeDefinitions)
			}

			idx := findOwnerIndex(describeRaw(t, client, table))
			if idx == nil {
				// dynalite validates an index Create but never builds it,
				// so here the scan fall-back is what answers.
				t.Logf("the emulator did not add the index; checking ListKeysByOwner's scan fall-back")
			}
			storesuite.AwaitKeys(t, s, "w1", []string{"a", "c"})
			storesuite.AwaitKeys(t, s, "w2", []string{"b"})
			if idx == nil && hooked.callCount("Query") != 0 {
				t.Fatalf("ListKeysByOwner queried a missing index")
			}
			if idx != nil && idx.IndexStatus == types.IndexStatusActive && hooked.callCount("Query") == 0 {
				t.Fatalf("ListKeysByOwner scanned although the index is ACTIVE")
			}
		})
	}
}

// TestDynamoOwnerIndexFallbackAndRecheck hides the owner index from the
// store to see it scan while the index is missing, and query once it has
// appeared.
func TestDynamoOwnerIndexFallbackAndRecheck(t *testing.T) {
	client := dynamoClient(t)
	table := uniqueTableName(t)
	setup := newTestDynamoStore(t, client, table)
	mustEnsure(t, setup)

	var hide sync.Mutex
	hidden := true
	hooked := &hookedDynamo{next: client}
	hooked.describeTable = func(ctx context.Context, in *dynamodb.DescribeTableInput) (*dynamodb.DescribeTableOutput, error) {
		out, err := client.DescribeTable(ctx, in)
		hide.Lock()
		defer hide.Unlock()
		if err == nil && hidden {
			out.Table.GlobalSecondaryIndexes = nil
		}
		return out, err
	}
	hooked.updateTable = func(ctx context.Context, in *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error) {
		return &dynamodb.UpdateTableOutput{}, nil // accepted; "being built"
	}
	s := newTestDynamoStore(t, hooked, table)
	mustEnsure(t, s)
	if hooked.callCount("UpdateTable") != 1 {
		t.Fatalf("UpdateTable calls = %d, want 1", hooked.callCount("UpdateTable"))
	}

	for i := range 10 {
		l := storesuite.MustCreate(t, s, storesuite.SampleLease(fmt.Sprintf("shardId-%012d", i)))
		if i%2 == 0 {
			storesuite.MustTake(t, s, l, "worker-a")
		}
	}
	want := []string{"shardId-000000000000", "shardId-000000000002", "shardId-000000000004", "shardId-000000000006", "shardId-000000000008"}
	got, err := s.ListKeysByOwner(t.Context(), "worker-a")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ListKeysByOwner while the index is missing = %q, %v; want %q", got, err, want)
	}
	if n := hooked.callCount("Query"); n != 0 {
		t.Fatalf("%d Query calls while the index is missing", n)
	}
	hooked.mu.Lock()
	lastScan := hooked.scans[len(hooked.scans)-1]
	hooked.mu.Unlock()
	if lastScan.FilterExpression == nil || aws.ToInt32(lastScan.Limit) != 7 {
		t.Fatalf("fall-back scan %+v, want a filtered scan in pages of 7", lastScan)
	}

	hide.Lock()
	hidden = false
	hide.Unlock()
	s.indexRecheck = 0 // the index "finished building"; look at once
	storesuite.AwaitKeys(t, s, "worker-a", want)
	if n := hooked.callCount("Query"); n == 0 {
		t.Fatal("ListKeysByOwner still scans after the index appeared")
	}
}

func TestDynamoListPages(t *testing.T) {
	client := dynamoClient(t)
	table := uniqueTableName(t)
	hooked := &hookedDynamo{next: client}
	s := newTestDynamoStore(t, hooked, table)
	mustEnsure(t, s)
	for i := range 20 {
		storesuite.MustCreate(t, s, storesuite.SampleLease(fmt.Sprintf("shardId-%012d", i)))
	}
	if got := len(storesuite.MustList(t, s)); got != 20 {
		t.Fatalf("List returned %d leases, want 20", got)
	}
	hooked.mu.Lock()
	defer hooked.mu.Unlock()
	if len(hooked.scans) < 3 {
		t.Fatalf("List made %d Scan calls for 20 items in pages of 7", len(hooked.scans))
	}
	for i, in := range hooked.scans {
		if aws.ToInt32(in.Limit) != 7 || !aws.ToBool(in.ConsistentRead) {
			t.Fatalf("Scan %d: Limit %v ConsistentRead %v", i, aws.ToInt32(in.Limit), aws.ToBool(in.ConsistentRead))
		}
		if (i == 0) != (in.ExclusiveStartKey == nil) {
			t.Fatalf("Scan %d: ExclusiveStartKey %v", i, in.ExclusiveStartKey)
		}
	}
}

func accessDenied(op string) error {
	return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: dynamodb:" + op}
}

func TestDynamoAccessDenied(t *testing.T) {
	client := dynamoClient(t)
	check := func(t *testing.T, err error, table, op string) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		if !awsapi.IsAccessDenied(err) {
			t.Fatalf("%v: the AWS error code is lost", err)
		}
		if msg := err.Error(); !strings.Contains(msg, table) || !strings.Contains(msg, "dynamodb:"+op) {
			t.Fatalf("error %q does not name table %s and operation %s", msg, table, op)
		}
	}

	t.Run("DescribeTable", func(t *testing.T) {
		table := uniqueTableName(t)
		hooked := &hookedDynamo{next: client}
		hooked.describeTable = func(context.Context, *dynamodb.DescribeTableInput) (*dynamodb.DescribeTableOutput, error) {
			return nil, accessDenied("DescribeTable")
		}
		check(t, newTestDynamoStore(t, hooked, table).EnsureTable(t.Context()), table, "DescribeTable")
	})
	t.Run("CreateTable", func(t *testing.T) {
		table := uniqueTableName(t)
		hooked := &hookedDynamo{next: client}
		hooked.createTable = func(context.Context, *dynamodb.CreateTableInput) (*dynamodb.CreateTableOutput, error) {
			return nil, accessDenied("CreateTable")
		}
		check(t, newTestDynamoStore(t, hooked, table).EnsureTable(t.Context()), table, "CreateTable")
	})
	t.Run("UpdateTable", func(t *testing.T) {
		table := uniqueTableName(t)
		createRawTable(t, client, leaseKeyTable(table, types.BillingModePayPerRequest))
		hooked := &hookedDynamo{next: client}
		hooked.updateTable = func(context.Context, *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error) {
			return nil, accessDenied("UpdateTable")
		}
		check(t, newTestDynamoStore(t, hooked, table).EnsureTable(t.Context()), table, "UpdateTable")
	})
	t.Run("UpdateItem", func(t *testing.T) {
		table := uniqueTableName(t)
		hooked := &hookedDynamo{next: client}
		s := newTestDynamoStore(t, hooked, table)
		mustEnsure(t, s)
		l := storesuite.OwnedLease(t, s, "shardId-000000000001", "worker-a")
		hooked.updateItem = func(context.Context, *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
			return nil, accessDenied("UpdateItem")
		}
		_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter, storesuite.Seq(1))
		check(t, err, table, "UpdateItem")
		if errors.Is(err, consumer.ErrLeaseLost) {
			t.Fatalf("a permissions error reported as a lost lease: %v", err)
		}
	})
}
