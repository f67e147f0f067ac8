package balancer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/leases"
)

func runCoordinatorStoreSuite(t *testing.T, st CoordinatorStore) {
	ctx := context.Background()
	if err := st.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := st.GetLeader(ctx)
	if err != nil || rec != (LeaderRecord{}) {
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
	if err := st.ReleaseLeader(ctx, LeaderRecord{Leader: cur.Leader, SessionID: "s", Epoch: 0}); !errors.Is(err, leases.ErrConditionFailed) {
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

func TestMemoryCoordinatorStore(t *testing.T) {
	runCoordinatorStoreSuite(t, NewMemoryCoordinatorStore())
}

func TestDynamoCoordinatorStore(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	st, err := NewDynamoCoordinatorStore(emulator.DynamoDBClient(env.DynamoDB), "coord-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err != nil {
		t.Fatal(err)
	}
	runCoordinatorStoreSuite(t, st)
}
