package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// TestREADMEExamples runs the command on an application taken over from
// the Java KCL (the tables as javaTables writes them, then a Shardwise
// worker holding two of the leases) and on a vmware-go-kcl-v2 table, and
// holds the README's "Operating and migrating" examples to the output
// (go test -update rewrites testdata/readme-*.golden; copy them into the
// README).
func TestREADMEExamples(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	ctx := context.Background()
	const app = "orders-consumer"
	tg := &target{table: app}
	_ = tg.resolve()
	for _, table := range []string{app, tg.workersTable, tg.coordTable, "vmware-orders"} {
		_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	}
	st, _ := leaseStore(client, app)
	tb, _ := openTables(client, tg)
	for _, ensure := range []func(context.Context) error{st.EnsureTable, tb.workers.EnsureTable, tb.coordinator.EnsureTable} {
		if err := ensure(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{client: client, app: app, leases: st, tables: tb}
	javaTables(t, f)
	if _, err := st.Create(ctx, leases.Lease{Key: "shardId-000000000003", Counter: 12, Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: seqB}}); err != nil {
		t.Fatal(err)
	}

	// The Java workers are stopped; check watches for a live fleet (the
	// example shows the default 12s, the test watches for less).
	check, stderr, code := cli(t, "check", "-table", app, "-observe", "300ms")
	if code != 0 {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	check = strings.Replace(check, "watched the tables for "+between(check, "watched the tables for ", ":"), "watched the tables for 12s", 1)

	// Shardwise takes over: the Java workers are stopped, a Shardwise
	// worker takes two leases and reports their lag.
	for _, key := range []string{"shardId-000000000000", "shardId-000000000001"} {
		l, err := st.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Take(ctx, l, "sw-7f3a"); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := tb.workers.Register(ctx, leases.WorkerRecord{ID: "sw-7f3a", SessionID: "9c1e", Stats: map[string][]float64{kclschema.MetricCPU: {23}},
		LeaseThroughput: map[string]float64{"shardId-000000000000": 310.5, "shardId-000000000001": 120},
		LeaseLag:        map[string]int64{"shardId-000000000000": 850, "shardId-000000000001": 12400}})
	if err != nil {
		t.Fatal(err)
	}
	// It leads: its own leader item, next to Java's lock.
	if _, err := tb.coordinator.ClaimLeader(ctx, 0, rec.ID, rec.SessionID); err != nil {
		t.Fatal(err)
	}
	// A fixed last-update time, so the example does not change each run.
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tg.workersTable),
		Key:              map[string]types.AttributeValue{kclschema.AttrWorkerID: s(rec.ID)},
		UpdateExpression: aws.String("SET #l = :l"), ExpressionAttributeNames: map[string]string{"#l": kclschema.AttrLastUpdate},
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": n("1796504400")}}); err != nil {
		t.Fatal(err)
	}
	lsOut, stderr, code := cli(t, "leases", "-table", app)
	if code != 0 {
		t.Fatalf("leases: exit %d: %s", code, stderr)
	}
	wkOut, stderr, code := cli(t, "workers", "-table", app)
	if code != 0 {
		t.Fatalf("workers: exit %d: %s", code, stderr)
	}
	setOut, stderr, code := cli(t, "set-checkpoint", "-table", app, "-shard", "shardId-000000000003", "-to", "TRIM_HORIZON")
	if code != 0 {
		t.Fatalf("set-checkpoint: exit %d: %s", code, stderr)
	}

	// A vmware-go-kcl-v2 application, stopped.
	createTable(t, client, "vmware-orders", vmwareShardID, "")
	past := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	putItem(t, client, "vmware-orders", map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000000"), vmwareLeaseTimeout: s(past), vmwareCheckpoint: s(seqA)})
	putItem(t, client, "vmware-orders", map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000001"), vmwareAssignedTo: s("vm-worker-1"), vmwareLeaseTimeout: s(past), vmwareCheckpoint: s("SHARD_END")})
	putItem(t, client, "vmware-orders", map[string]types.AttributeValue{vmwareShardID: s("shardId-000000000002"), vmwareAssignedTo: s("vm-worker-1"), vmwareLeaseTimeout: s(past), vmwareParent: s("shardId-000000000001")})
	impOut, stderr, code := cli(t, "import", "-from", "vmware", "-source-table", "vmware-orders", "-table", "orders-from-vmware", "-observe", "10ms")
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	// The watch time varies by a few milliseconds: the example shows 10s,
	// the default.
	impOut = strings.Replace(impOut, "watched for writes for "+between(impOut, "watched for writes for ", "\n"), "watched for writes for 10s", 1)

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"check":          "$ shardwise check -table orders-consumer\n" + check,
		"leases":         "$ shardwise leases -table orders-consumer\n" + lsOut,
		"workers":        "$ shardwise workers -table orders-consumer\n" + wkOut,
		"set-checkpoint": "$ shardwise set-checkpoint -table orders-consumer -shard shardId-000000000003 -to TRIM_HORIZON\n" + setOut,
		"import":         "$ shardwise import -from vmware -source-table vmware-orders -table orders-from-vmware\n" + impOut,
	} {
		golden := filepath.Join("testdata", "readme-"+name+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s output differs from %s (go test -update rewrites it):\n%s", name, golden, got)
		}
		if !strings.Contains(string(readme), "```\n"+string(want)+"```\n") {
			t.Errorf("README.md's %s example differs from %s; copy it there", name, golden)
		}
	}
}

// between is the text of s after the first from, up to the next to.
func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}
