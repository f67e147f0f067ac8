package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

func TestInspectPrintsLeasesAndWorkers(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	ctx := context.Background()
	app := "inspect-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: client, TableName: app, BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []leases.Lease{
		{Key: "shardId-000000000000", Owner: "w1", Checkpoint: consumer.ShardEnd, ChildShardIDs: []string{"shardId-000000000001"}},
		{Key: "shardId-000000000001", Owner: "w1", Checkpoint: consumer.TrimHorizon, ParentShardIDs: []string{"shardId-000000000000"}},
	} {
		if _, err := st.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	ws, _ := ddbstore.NewDynamoWorkerStore(client, app+"-WorkerMetricStats", time.Minute)
	if err := ws.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s", Stats: map[string][]float64{kclschema.MetricCPU: {42}}}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := inspect(ctx, &out, client, app, app); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"2 leases", "shardId-000000000000", "SHARD_END", "finished", "TRIM_HORIZON", "w1", "42", "Workers: 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
