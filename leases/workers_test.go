package leases

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/emulator"
)

func runWorkerStoreSuite(t *testing.T, newStore func(t *testing.T) WorkerStore) {
	ctx := context.Background()
	t.Run("EnsureTableConcurrent", func(t *testing.T) {
		st := newStore(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- st.EnsureTable(ctx) }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("HeartbeatIsACompareAndSet", func(t *testing.T) {
		st := newStore(t)
		if err := st.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := st.Register(ctx, WorkerRecord{ID: "w1", SessionID: "s1", Stats: map[string][]float64{MetricCPU: {12.5}}})
		if err != nil || r.Heartbeat != 1 {
			t.Fatalf("Register: %+v %v", r, err)
		}
		r.LeaseThroughput = map[string]float64{"shard-1": 3.25}
		r2, err := st.Heartbeat(ctx, r)
		if err != nil || r2.Heartbeat != 2 {
			t.Fatalf("Heartbeat: %+v %v", r2, err)
		}
		// A stale counter (a heartbeat lost in flight is not retried with
		// the old value by a correct session) and a foreign session fail.
		if _, err := st.Heartbeat(ctx, r); !errors.Is(err, ErrConditionFailed) {
			t.Fatalf("stale heartbeat: %v", err)
		}
		other := r2
		other.SessionID = "s0"
		if _, err := st.Heartbeat(ctx, other); !errors.Is(err, ErrConditionFailed) {
			t.Fatalf("foreign session: %v", err)
		}
		got, err := st.Get(ctx, "w1")
		if err != nil || got.Heartbeat != 2 || got.LatestCPU() != 12.5 || got.LeaseThroughput["shard-1"] != 3.25 {
			t.Fatalf("Get: %+v %v", got, err)
		}
		// A new incarnation replaces the record; the old session's next
		// heartbeat fails.
		if _, err := st.Register(ctx, WorkerRecord{ID: "w1", SessionID: "s2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Heartbeat(ctx, r2); !errors.Is(err, ErrConditionFailed) {
			t.Fatalf("replaced session's heartbeat: %v", err)
		}
	})
	t.Run("ListGetRemoveDeregister", func(t *testing.T) {
		st := newStore(t)
		if err := st.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if _, err := st.Register(ctx, WorkerRecord{ID: fmt.Sprintf("w%d", i), SessionID: "s"}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := st.List(ctx)
		if err != nil || len(all) != 5 {
			t.Fatalf("List: %d %v", len(all), err)
		}
		if _, err := st.Get(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get missing: %v", err)
		}
		// Remove only deletes the exact (session, heartbeat) observed.
		w0, _ := st.Get(ctx, "w0")
		w0.Heartbeat++
		if err := st.Remove(ctx, w0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "w0"); err != nil {
			t.Fatal("Remove with a stale observation deleted a live worker's record")
		}
		w0.Heartbeat--
		if err := st.Remove(ctx, w0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "w0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after Remove: %v", err)
		}
		// Deregister only deletes its own session's record.
		if err := st.Deregister(ctx, "w1", "other-session"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "w1"); err != nil {
			t.Fatal("Deregister of another session deleted the record")
		}
		if err := st.Deregister(ctx, "w1", "s"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "w1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after Deregister: %v", err)
		}
	})
}

func TestMemoryWorkerStore(t *testing.T) {
	runWorkerStoreSuite(t, func(*testing.T) WorkerStore { return NewMemoryWorkerStore() })
}

func TestDynamoWorkerStore(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	runWorkerStoreSuite(t, func(t *testing.T) WorkerStore {
		st, err := NewDynamoWorkerStore(client, "workers-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestDynamoWorkerStoreFormatAndForeignSchema(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	ctx := context.Background()
	table := "workers-fmt-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	st, _ := NewDynamoWorkerStore(client, table)
	if err := st.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Register(ctx, WorkerRecord{ID: "w1", SessionID: "s", Stats: map[string][]float64{MetricCPU: {1, 2}}, OperatingRange: map[string][]float64{MetricCPU: {100}}}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"wid": &types.AttributeValueMemberS{Value: "w1"}}})
	if err != nil {
		t.Fatal(err)
	}
	// KCL's attribute names and types.
	if _, ok := out.Item["lut"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("lut is %T", out.Item["lut"])
	}
	sts, ok := out.Item["sts"].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("sts is %T", out.Item["sts"])
	}
	if l, ok := sts.Value["C"].(*types.AttributeValueMemberL); !ok || len(l.Value) != 2 {
		t.Errorf("sts.C is %#v", sts.Value["C"])
	}
	if _, ok := out.Item["opr"].(*types.AttributeValueMemberM); !ok {
		t.Errorf("opr is %T", out.Item["opr"])
	}
	// A table with another key schema is refused.
	foreign := table + "-foreign"
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(foreign),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	fst, _ := NewDynamoWorkerStore(client, foreign)
	var se *TableSchemaError
	if err := fst.EnsureTable(ctx); !errors.As(err, &se) {
		t.Fatalf("foreign table: %v", err)
	}
}
