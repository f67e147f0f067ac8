package storesuite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// Workers checks the WorkerStore contract; newStore returns a store on
// its own, empty table.
func Workers(t *testing.T, newStore func(t *testing.T) leases.WorkerStore) {
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
		r, err := st.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s1", Stats: map[string][]float64{kclschema.MetricCPU: {12.5}}})
		if err != nil || r.Heartbeat != 1 {
			t.Fatalf("Register: %+v %v", r, err)
		}
		r.LeaseThroughput = map[string]float64{"shard-1": 3.25}
		r.LeaseLag = map[string]int64{"shard-1": 1500}
		r2, err := st.Heartbeat(ctx, r)
		if err != nil || r2.Heartbeat != 2 {
			t.Fatalf("Heartbeat: %+v %v", r2, err)
		}
		// A stale counter (a heartbeat lost in flight is not retried with
		// the old value by a correct session) and a foreign session fail.
		if _, err := st.Heartbeat(ctx, r); !errors.Is(err, leases.ErrConditionFailed) {
			t.Fatalf("stale heartbeat: %v", err)
		}
		other := r2
		other.SessionID = "s0"
		if _, err := st.Heartbeat(ctx, other); !errors.Is(err, leases.ErrConditionFailed) {
			t.Fatalf("foreign session: %v", err)
		}
		got, err := st.Get(ctx, "w1")
		if err != nil || got.Heartbeat != 2 || kclschema.LatestCPU(got.Stats) != 12.5 || got.LeaseThroughput["shard-1"] != 3.25 || got.LeaseLag["shard-1"] != 1500 {
			t.Fatalf("Get: %+v %v", got, err)
		}
		// A new incarnation replaces the record; the old session's next
		// heartbeat fails.
		if _, err := st.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Heartbeat(ctx, r2); !errors.Is(err, leases.ErrConditionFailed) {
			t.Fatalf("replaced session's heartbeat: %v", err)
		}
	})
	t.Run("ListGetRemoveDeregister", func(t *testing.T) {
		st := newStore(t)
		if err := st.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if _, err := st.Register(ctx, leases.WorkerRecord{ID: fmt.Sprintf("w%d", i), SessionID: "s"}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := st.List(ctx)
		if err != nil || len(all) != 5 {
			t.Fatalf("List: %d %v", len(all), err)
		}
		if _, err := st.Get(ctx, "nobody"); !errors.Is(err, leases.ErrNotFound) {
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
		if _, err := st.Get(ctx, "w0"); !errors.Is(err, leases.ErrNotFound) {
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
		if _, err := st.Get(ctx, "w1"); !errors.Is(err, leases.ErrNotFound) {
			t.Fatalf("after Deregister: %v", err)
		}
	})
}
