package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/leases"
)

const (
	seqA = "49650000000000000000000000000000000000000000000000000011"
	seqB = "49650000000000000000000000000000000000000000000000000022"
)

// vmwareTable creates a checkpoint table as vmware-go-kcl-v2 does (hash
// key ShardID, provisioned) and writes items as its DynamoCheckpoint
// leaves them after a stop: a lease released cleanly (AssignedTo removed,
// LeaseTimeout kept), a finished shard whose worker crashed (owner kept,
// timeout past), and its child with no checkpoint yet.
func vmwareTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	table := uniqueName("vmware")
	createTable(t, client, table, vmwareShardID, "")
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	putItem(t, client, table, map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000000"), vmwareLeaseTimeout: s(past), vmwareCheckpoint: s(seqA)})
	putItem(t, client, table, map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000001"), vmwareAssignedTo: s("vm-worker-1"), vmwareLeaseTimeout: s(past), vmwareCheckpoint: s("SHARD_END")})
	putItem(t, client, table, map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000002"), vmwareAssignedTo: s("vm-worker-1"), vmwareLeaseTimeout: s(past), vmwareParent: s("shardId-000000000001")})
	return client, table
}

func TestImportVmware(t *testing.T) {
	client, source := vmwareTable(t)
	dest := uniqueName("vmdest")
	ctx := context.Background()

	// Dry run: the plan, and nothing written (not even the table).
	out, stderr, code := cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "100ms")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s\n%s", code, stderr, out)
	}
	for prefix, want := range map[string]string{
		"shardId-000000000000": "shardId-000000000000 shardId-000000000000 " + seqA + " " + seqA + " - create",
		"shardId-000000000001": "shardId-000000000001 shardId-000000000001 SHARD_END SHARD_END - create",
		"shardId-000000000002": "shardId-000000000002 shardId-000000000002 - TRIM_HORIZON shardId-000000000001 create",
	} {
		if got := row(out, prefix); got != want {
			t.Errorf("dry run row %q:\n got %q\nwant %q", prefix, got, want)
		}
	}
	if !strings.Contains(out, "dry run (nothing written") {
		t.Errorf("dry run not said:\n%s", out)
	}
	if err := requireTable(ctx, client, dest); !errors.Is(err, errNoTable) {
		t.Fatalf("dry run touched the destination: %v", err)
	}

	// -write: the leases, unowned, at the same positions.
	out, stderr, code = cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "100ms", "-write", "-json")
	var rep importReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("write: exit %d, %v: %s\n%s", code, err, stderr, out)
	}
	for _, r := range rep.Rows {
		if r.Action != "created" {
			t.Errorf("%s: %s", r.ShardID, r.Action)
		}
	}
	st, _ := leaseStore(client, dest)
	got, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []leases.Lease{
		{Key: "shardId-000000000000", Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: seqA}},
		{Key: "shardId-000000000001", Checkpoint: consumer.ShardEnd},
		{Key: "shardId-000000000002", Checkpoint: consumer.TrimHorizon, ParentShardIDs: []string{"shardId-000000000001"}},
	}
	if len(got) != len(want) {
		t.Fatalf("leases %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.Owner != "" || g.Counter != 0 || g.Checkpoint != w.Checkpoint || strings.Join(g.ParentShardIDs, ",") != strings.Join(w.ParentShardIDs, ",") {
			t.Errorf("lease %d: %+v, want %+v", i, g, w)
		}
	}

	// Again: every lease exists, so it is refused and nothing changes.
	out, stderr, code = cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "100ms", "-write")
	if code != exitError || !strings.Contains(stderr, "3 lease(s) exist already") || row(out, "shardId-000000000000") != "shardId-000000000000 shardId-000000000000 "+seqA+" "+seqA+" - exists" {
		t.Errorf("re-import: exit %d, %s\n%s", code, stderr, out)
	}
	// -skip-existing with nothing new writes nothing and succeeds.
	if _, stderr, code = cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "100ms", "-write", "-skip-existing"); code != 0 {
		t.Errorf("skip-existing: exit %d: %s", code, stderr)
	}
}

func TestImportVmwareRefusesALiveFleet(t *testing.T) {
	client, source := vmwareTable(t)
	ctx := context.Background()
	dest := uniqueName("vmlive")
	// A worker holds shard 3 with its lease timeout ahead.
	future := time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	putItem(t, client, source, map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000003"), vmwareAssignedTo: s("vm-worker-2"), vmwareLeaseTimeout: s(future), vmwareCheckpoint: s(seqB)})
	out, stderr, code := cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "100ms", "-write")
	if code != exitError || !strings.Contains(stderr, "refused: the vmware workers look live (1 shard(s))") || !strings.Contains(out, "shardId-000000000003: owned by vm-worker-2 until") {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	if err := requireTable(ctx, client, dest); !errors.Is(err, errNoTable) {
		t.Fatalf("refused import wrote: %v", err)
	}

	// No owner left, but a checkpoint moves while the table is watched
	// (a worker whose clock is behind, say).
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(source), Key: map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000003")}}); err != nil {
		t.Fatal(err)
	}
	testHookObserving = func() {
		putItem(t, client, source, map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000000"), vmwareLeaseTimeout: s(future), vmwareCheckpoint: s(seqB)})
	}
	defer func() { testHookObserving = nil }()
	out, stderr, code = cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "200ms", "-write")
	if code != exitError || !strings.Contains(out, "shardId-000000000000: written during the 200ms watched") {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	if err := requireTable(ctx, client, dest); !errors.Is(err, errNoTable) {
		t.Fatalf("refused import wrote: %v", err)
	}
}

// harlowTable creates a table as harlow/kinesis-consumer's DynamoDB store
// expects it (hash key namespace, range key shard_id) and writes items as
// its save() does: namespace "<app>-<stream>", shard_id, sequence_number.
func harlowTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	table := uniqueName("harlow")
	createTable(t, client, table, harlowNamespace, harlowShardID)
	for _, it := range [][3]string{
		{"orders-app-orders", "shardId-000000000000", seqA},
		{"orders-app-orders", "shardId-000000000001", seqB},
		{"audit-app-orders", "shardId-000000000000", seqB},
	} {
		putItem(t, client, table, map[string]types.AttributeValue{harlowNamespace: s(it[0]), harlowShardID: s(it[1]), harlowSequence: s(it[2])})
	}
	return client, table
}

func TestImportHarlow(t *testing.T) {
	client, source := harlowTable(t)
	ctx := context.Background()
	dest := uniqueName("hdest")

	_, stderr, code := cli(t, "import", "-from", "harlow", "-source-table", source, "-table", dest, "-observe", "100ms")
	if code != exitUsage || !strings.Contains(stderr, "the table holds: audit-app-orders, orders-app-orders") {
		t.Errorf("no namespace: exit %d: %s", code, stderr)
	}

	out, stderr, code := cli(t, "import", "-from", "harlow", "-source-table", source, "-namespace", "orders-app-orders", "-table", dest, "-observe", "100ms")
	if code != 0 || row(out, "shardId-000000000001") != "shardId-000000000001 shardId-000000000001 "+seqB+" "+seqB+" - create" || !strings.Contains(out, "keeps no owners or timestamps") {
		t.Fatalf("dry run: exit %d: %s\n%s", code, stderr, out)
	}
	if err := requireTable(ctx, client, dest); !errors.Is(err, errNoTable) {
		t.Fatalf("dry run touched the destination: %v", err)
	}

	// A checkpoint moves while watched: a live consumer.
	testHookObserving = func() {
		putItem(t, client, source, map[string]types.AttributeValue{harlowNamespace: s("orders-app-orders"), harlowShardID: s("shardId-000000000001"), harlowSequence: s(seqB + "1")})
	}
	out, stderr, code = cli(t, "import", "-from", "harlow", "-source-table", source, "-namespace", "orders-app-orders", "-table", dest, "-observe", "200ms", "-write")
	testHookObserving = nil
	if code != exitError || !strings.Contains(out, "shardId-000000000001: written during the 200ms watched") || !strings.Contains(stderr, "refused") {
		t.Errorf("live: exit %d: %s\n%s", code, stderr, out)
	}
	if err := requireTable(ctx, client, dest); !errors.Is(err, errNoTable) {
		t.Fatalf("refused import wrote: %v", err)
	}

	// Stopped: written, at the positions of that namespace only.
	out, stderr, code = cli(t, "import", "-from", "harlow", "-source-table", source, "-namespace", "orders-app-orders", "-table", dest, "-observe", "100ms", "-write")
	if code != 0 {
		t.Fatalf("write: exit %d: %s\n%s", code, stderr, out)
	}
	st, _ := leaseStore(client, dest)
	got, err := st.List(ctx)
	if err != nil || len(got) != 2 || got[0].Checkpoint.SequenceNumber != seqA || got[1].Checkpoint.SequenceNumber != seqB+"1" || got[0].Owner != "" {
		t.Errorf("leases %v: %+v", err, got)
	}

	// An existing lease with another position is never overwritten.
	if _, err := st.Take(ctx, got[0], "sw-1"); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = cli(t, "import", "-from", "harlow", "-source-table", source, "-namespace", "orders-app-orders", "-table", dest, "-observe", "100ms", "-write")
	if code != exitError || !strings.Contains(stderr, "exist already") {
		t.Errorf("existing: exit %d: %s\n%s", code, stderr, out)
	}
	if l, _ := st.Get(ctx, got[0].Key); l.Owner != "sw-1" || l.Counter != 1 {
		t.Errorf("existing lease changed: %+v", l)
	}
}

func TestImportNeverOverwritesALeaseThatAppears(t *testing.T) {
	client, source := vmwareTable(t)
	ctx := context.Background()
	dest := uniqueName("vmrace")
	st, _ := leaseStore(client, dest)
	// Between the plan and the writes a Shardwise worker creates one of
	// the leases.
	testHookBeforeWrite = func() {
		if _, err := st.Create(ctx, leases.Lease{Key: "shardId-000000000001", Owner: "sw-1", Checkpoint: consumer.TrimHorizon}); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookBeforeWrite = nil }()
	out, stderr, code := cli(t, "import", "-from", "vmware", "-source-table", source, "-table", dest, "-observe", "100ms", "-write")
	if code != exitError || !strings.Contains(stderr, "1 lease(s) appeared while importing and were left unchanged") {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	if l, err := st.Get(ctx, "shardId-000000000001"); err != nil || l.Owner != "sw-1" || l.Checkpoint != consumer.TrimHorizon {
		t.Errorf("the lease that appeared was overwritten: %+v %v", l, err)
	}
	if l, err := st.Get(ctx, "shardId-000000000000"); err != nil || l.Checkpoint.SequenceNumber != seqA {
		t.Errorf("the others were not imported: %+v %v", l, err)
	}
}
