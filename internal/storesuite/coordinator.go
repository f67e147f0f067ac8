package storesuite

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardwise/shardwise/leases"
)

// Coordinator checks the CoordinatorStore contract on an empty store.
func Coordinator(t *testing.T, st leases.CoordinatorStore) {
	ctx := context.Background()
	if err := st.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := st.GetLeader(ctx)
	if err != nil || rec != (leases.LeaderRecord{}) {
		t.Fatalf("empty table: %+v %v", rec, err)
	}
	// Eight candidates claim at once: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.ClaimLeader(ctx, 0, "w"+strconv.Itoa(i), "s")
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, leases.ErrConditionFailed):
				t.Errorf("claim: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d candidates won the same epoch", wins.Load())
	}
	cur, err := st.GetLeader(ctx)
	if err != nil || cur.Epoch != 1 || cur.Leader == "" {
		t.Fatalf("after claims: %+v %v", cur, err)
	}
	// A stale epoch cannot claim or release.
	if _, err := st.ClaimLeader(ctx, 0, "late", "s"); !errors.Is(err, leases.ErrConditionFailed) {
		t.Fatalf("stale claim: %v", err)
	}
	if err := st.ReleaseLeader(ctx, leases.LeaderRecord{Leader: cur.Leader, SessionID: "s", Epoch: 0}); !errors.Is(err, leases.ErrConditionFailed) {
		t.Fatalf("stale release: %v", err)
	}
	if err := st.ReleaseLeader(ctx, cur); err != nil {
		t.Fatal(err)
	}
	freed, _ := st.GetLeader(ctx)
	if freed.Leader != "" || freed.Epoch != 2 {
		t.Fatalf("after release: %+v", freed)
	}
	if next, err := st.ClaimLeader(ctx, freed.Epoch, "w9", "s9"); err != nil || next.Epoch != 3 || next.Leader != "w9" {
		t.Fatalf("claim after release: %+v %v", next, err)
	}
}
