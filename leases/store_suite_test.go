package leases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// runStoreSuite checks the Store contract. Every implementation runs it, so
// the in-memory store that other packages test against is held to exactly
// what DynamoDB does. newStore returns a store on its own, empty table;
// EnsureTable has not been called on it.
func runStoreSuite(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
		// raw leaves EnsureTable to the test.
		raw bool
	}{
		{name: "EnsureTableIdempotentAndConcurrent", run: testEnsureTable, raw: true},
		{name: "CreateIfAbsent", run: testCreateIfAbsent},
		{name: "CreateRoundTrip", run: testCreateRoundTrip},
		{name: "CreateRejectsInvalidLease", run: testCreateRejectsInvalid},
		{name: "GetMissing", run: testGetMissing},
		{name: "TakeUnowned", run: testTakeUnowned},
		{name: "TakeStaleCounter", run: testTakeStaleCounter},
		{name: "TakeWrongOwner", run: testTakeWrongOwner},
		{name: "TakeByAnotherWorkerFencesOldOwner", run: testTakeByAnotherWorker},
		{name: "TakeBySameOwner", run: testTakeBySameOwner},
		{name: "TakeMissing", run: testTakeMissing},
		{name: "TakeRace", run: testTakeRace},
		{name: "CheckpointStaleCounter", run: testCheckpointStaleCounter},
		{name: "CheckpointEffects", run: testCheckpointEffects},
		{name: "CheckpointInvalidPosition", run: testCheckpointInvalid},
		{name: "CheckpointMissingLease", run: testCheckpointMissing},
		{name: "CheckpointUnownedLease", run: testCheckpointUnowned},
		{name: "PrepareCheckpoint", run: testPrepareCheckpoint},
		{name: "Release", run: testRelease},
		{name: "Handoff", run: testHandoff},
		{name: "HandoffForcedByTake", run: testHandoffForcedByTake},
		{name: "HandoffMissingLease", run: testHandoffMissing},
		{name: "SetChildShards", run: testSetChildShards},
		{name: "Delete", run: testDelete},
		{name: "ListPaginated", run: testListPaginated},
		{name: "ListKeysByOwner", run: testListKeysByOwner},
		{name: "InvalidArguments", run: testInvalidArguments},
		{name: "CopiesInAndOut", run: testCopies},
		{name: "CancelledContext", run: testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if !tc.raw {
				if err := s.EnsureTable(t.Context()); err != nil {
					t.Fatalf("EnsureTable: %v", err)
				}
			}
			tc.run(t, s)
		})
	}
}

// sampleLease is a lease as shard sync creates it: unowned, at
// TRIM_HORIZON, with a parent and a hash range.
func sampleLease(key string) Lease {
	return Lease{
		Key:             key,
		Checkpoint:      consumer.TrimHorizon,
		ParentShardIDs:  []string{"shardId-000000000000"},
		StartingHashKey: "0",
		EndingHashKey:   "170141183460469231731687303715884105727",
	}
}

func seq(n int) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: fmt.Sprintf("4959%056d", n)}
}

func mustCreate(t *testing.T, s Store, l Lease) Lease {
	t.Helper()
	created, err := s.Create(t.Context(), l)
	if err != nil || !created {
		t.Fatalf("Create(%s) = %v, %v; want true, nil", l.Key, created, err)
	}
	return mustGet(t, s, l.Key)
}

func mustGet(t *testing.T, s Store, key string) Lease {
	t.Helper()
	l, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return l
}

func mustTake(t *testing.T, s Store, l Lease, owner string) Lease {
	t.Helper()
	got, err := s.Take(t.Context(), l, owner)
	if err != nil {
		t.Fatalf("Take(%s, %s): %v", l.Key, owner, err)
	}
	return got
}

// ownedLease creates a sample lease and has owner take it.
func ownedLease(t *testing.T, s Store, key, owner string) Lease {
	t.Helper()
	return mustTake(t, s, mustCreate(t, s, sampleLease(key)), owner)
}

func wantLease(t *testing.T, what string, got, want Lease) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want errors.Is %v", what, err, target)
	}
}

// wantUnchanged checks that the stored lease still equals before.
func wantUnchanged(t *testing.T, s Store, before Lease) {
	t.Helper()
	wantLease(t, "stored lease after a refused write", mustGet(t, s, before.Key), before)
}

// awaitKeys waits for ListKeysByOwner to answer want: the owner index is
// only eventually consistent on DynamoDB.
func awaitKeys(t *testing.T, s Store, owner string, want []string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := s.ListKeysByOwner(t.Context(), owner)
		if err != nil {
			t.Fatalf("ListKeysByOwner(%s): %v", owner, err)
		}
		if slices.Equal(got, want) {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("ListKeysByOwner(%s) = %q, want %q", owner, got, want)
		case <-tick.C:
		}
	}
}

func testEnsureTable(t *testing.T, s Store) {
	ctx := t.Context()
	if err := s.EnsureTable(ctx); err != nil {
		t.Fatalf("first EnsureTable: %v", err)
	}
	if err := s.EnsureTable(ctx); err != nil {
		t.Fatalf("second EnsureTable: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.EnsureTable(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent EnsureTable %d: %v", i, err)
		}
	}
	mustCreate(t, s, sampleLease("shardId-000000000001"))
}

func testCreateIfAbsent(t *testing.T, s Store) {
	first := mustCreate(t, s, sampleLease("shardId-000000000001"))
	other := sampleLease("shardId-000000000001")
	other.Owner = "intruder"
	other.Counter = 42
	other.Checkpoint = seq(9)
	created, err := s.Create(t.Context(), other)
	if err != nil || created {
		t.Fatalf("second Create = %v, %v; want false, nil", created, err)
	}
	wantUnchanged(t, s, first)
}

func testCreateRoundTrip(t *testing.T, s Store) {
	l := Lease{
		Key:                          "shardId-000000000007",
		Owner:                        "worker-a",
		Counter:                      17,
		Checkpoint:                   consumer.ExtendedSequenceNumber{SequenceNumber: seq(5).SequenceNumber, SubSequenceNumber: 3},
		PendingCheckpoint:            consumer.ExtendedSequenceNumber{SequenceNumber: seq(6).SequenceNumber, SubSequenceNumber: 1},
		PendingCheckpointState:       []byte{0, 1, 2, 0xff},
		OwnerSwitchesSinceCheckpoint: 2,
		ParentShardIDs:               []string{"shardId-000000000002", "shardId-000000000001", "shardId-000000000002", ""},
		ChildShardIDs:                []string{"shardId-000000000009"},
		StartingHashKey:              "85070591730234615865843651857942052864",
		EndingHashKey:                "170141183460469231731687303715884105727",
		ThroughputKBps:               12.5,
		CheckpointOwner:              "worker-b",
	}
	want := l.Clone()
	want.ParentShardIDs = []string{"shardId-000000000001", "shardId-000000000002"}
	got := mustCreate(t, s, l)
	wantLease(t, "lease read back", got, want)

	bare := mustCreate(t, s, Lease{Key: "bare"})
	wantLease(t, "bare lease read back", bare, Lease{Key: "bare"})
}

func testCreateRejectsInvalid(t *testing.T, s Store) {
	bad := map[string]Lease{
		"empty key":         {Checkpoint: consumer.Latest},
		"bad checkpoint":    {Key: "k1", Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "12x"}},
		"bad pending":       {Key: "k2", PendingCheckpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "1", SubSequenceNumber: -1}},
		"negative counter":  {Key: "k3", Counter: -1},
		"NaN throughput":    {Key: "k4", ThroughputKBps: nanFloat()},
		"negative switches": {Key: "k5", OwnerSwitchesSinceCheckpoint: -2},
	}
	for what, l := range bad {
		created, err := s.Create(t.Context(), l)
		if err == nil || created {
			t.Errorf("Create(%s) = %v, %v; want an error", what, created, err)
		}
		if l.Key != "" {
			if _, err := s.Get(t.Context(), l.Key); !errors.Is(err, ErrNotFound) {
				t.Errorf("Create(%s) refused but Get says %v", what, err)
			}
		}
	}
}

func nanFloat() float64 {
	zero := 0.0
	return zero / zero
}

func testGetMissing(t *testing.T, s Store) {
	_, err := s.Get(t.Context(), "shardId-404")
	wantErrIs(t, "Get of a missing lease", err, ErrNotFound)
}

func testTakeUnowned(t *testing.T, s Store) {
	l := mustCreate(t, s, sampleLease("shardId-000000000001"))
	got := mustTake(t, s, l, "worker-a")
	want := l.Clone()
	want.Owner = "worker-a"
	want.Counter = l.Counter + 1
	want.OwnerSwitchesSinceCheckpoint = l.OwnerSwitchesSinceCheckpoint + 1
	wantLease(t, "Take result", got, want)
	wantLease(t, "stored after Take", mustGet(t, s, l.Key), want)
}

func testTakeStaleCounter(t *testing.T, s Store) {
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	stale := l.Clone()
	stale.Counter--
	_, err := s.Take(t.Context(), stale, "worker-b")
	wantErrIs(t, "Take with a stale counter", err, ErrConditionFailed)
	if errors.Is(err, ErrNotFound) {
		t.Fatalf("Take with a stale counter: %v is also ErrNotFound", err)
	}
	wantUnchanged(t, s, l)
}

func testTakeWrongOwner(t *testing.T, s Store) {
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	unowned := l.Clone()
	unowned.Owner = ""
	_, err := s.Take(t.Context(), unowned, "worker-b")
	wantErrIs(t, "Take expecting an unowned lease", err, ErrConditionFailed)
	other := l.Clone()
	other.Owner = "worker-c"
	_, err = s.Take(t.Context(), other, "worker-b")
	wantErrIs(t, "Take expecting another owner", err, ErrConditionFailed)
	wantUnchanged(t, s, l)
}

func testTakeByAnotherWorker(t *testing.T, s Store) {
	ctx := t.Context()
	a := ownedLease(t, s, "shardId-000000000001", "worker-a")
	cp, err := s.Checkpoint(ctx, a.Key, "worker-a", a.Counter, seq(1))
	if err != nil {
		t.Fatalf("owner's Checkpoint: %v", err)
	}
	a = mustGet(t, s, a.Key)
	if a.Counter != cp {
		t.Fatalf("Checkpoint returned counter %d, stored %d", cp, a.Counter)
	}

	b := mustTake(t, s, a, "worker-b")
	if b.Owner != "worker-b" || b.Counter != a.Counter+1 || b.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("after Take by worker-b: %+v", b)
	}

	_, err = s.Checkpoint(ctx, a.Key, "worker-a", a.Counter, seq(2))
	wantErrIs(t, "old owner's Checkpoint", err, consumer.ErrLeaseLost)
	_, err = s.Checkpoint(ctx, a.Key, "worker-a", b.Counter, seq(2))
	wantErrIs(t, "old owner's Checkpoint at the new counter", err, consumer.ErrLeaseLost)
	_, err = s.PrepareCheckpoint(ctx, a.Key, "worker-a", a.Counter, seq(2), nil)
	wantErrIs(t, "old owner's PrepareCheckpoint", err, consumer.ErrLeaseLost)
	_, err = s.Release(ctx, a)
	wantErrIs(t, "old owner's Release", err, ErrConditionFailed)
	wantUnchanged(t, s, b)

	if _, err := s.Checkpoint(ctx, b.Key, "worker-b", b.Counter, seq(2)); err != nil {
		t.Fatalf("new owner's Checkpoint: %v", err)
	}
	if got := mustGet(t, s, b.Key).Checkpoint; got != seq(2) {
		t.Fatalf("checkpoint %v, want %v", got, seq(2))
	}
}

func testTakeBySameOwner(t *testing.T, s Store) {
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	got := mustTake(t, s, l, "worker-a")
	want := l.Clone()
	want.Counter++
	wantLease(t, "retaking an owned lease", got, want)
}

func testTakeMissing(t *testing.T, s Store) {
	_, err := s.Take(t.Context(), sampleLease("shardId-404"), "worker-a")
	wantErrIs(t, "Take of a missing lease", err, ErrNotFound)
	if _, err := s.Get(t.Context(), "shardId-404"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Take of a missing lease created it: Get says %v", err)
	}
	_, err = s.Release(t.Context(), sampleLease("shardId-404"))
	wantErrIs(t, "Release of a missing lease", err, ErrNotFound)
}

func testTakeRace(t *testing.T, s Store) {
	l := mustCreate(t, s, sampleLease("shardId-000000000001"))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Take(t.Context(), l, fmt.Sprintf("worker-%d", i))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("both worker-%d and worker-%d took the lease", winner, i)
			}
			winner = i
		case !errors.Is(err, ErrConditionFailed):
			t.Fatalf("worker-%d: %v, want ErrConditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no worker took the lease")
	}
	got := mustGet(t, s, l.Key)
	if got.Owner != fmt.Sprintf("worker-%d", winner) || got.Counter != l.Counter+1 {
		t.Fatalf("stored %+v, want owner worker-%d at counter %d", got, winner, l.Counter+1)
	}
}

func testCheckpointStaleCounter(t *testing.T, s Store) {
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter-1, seq(1))
	wantErrIs(t, "Checkpoint with a stale counter", err, consumer.ErrLeaseLost)
	_, err = s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter+1, seq(1))
	wantErrIs(t, "Checkpoint with a future counter", err, consumer.ErrLeaseLost)
	_, err = s.SetChildShards(t.Context(), l.Key, "worker-a", l.Counter-1, []string{"c"})
	wantErrIs(t, "SetChildShards with a stale counter", err, consumer.ErrLeaseLost)
	wantUnchanged(t, s, l)
}

func testCheckpointEffects(t *testing.T, s Store) {
	ctx := t.Context()
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	l = mustTake(t, s, l, "worker-b") // two owner switches since the checkpoint
	c, err := s.PrepareCheckpoint(ctx, l.Key, "worker-b", l.Counter, seq(7), []byte("state"))
	if err != nil {
		t.Fatalf("PrepareCheckpoint: %v", err)
	}
	before := mustGet(t, s, l.Key)
	if before.OwnerSwitchesSinceCheckpoint != 2 || before.PendingCheckpoint.IsZero() {
		t.Fatalf("set-up: %+v", before)
	}

	pos := consumer.ExtendedSequenceNumber{SequenceNumber: seq(7).SequenceNumber, SubSequenceNumber: 4}
	got, err := s.Checkpoint(ctx, l.Key, "worker-b", c, pos)
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if got != c+1 {
		t.Fatalf("Checkpoint returned counter %d, want %d", got, c+1)
	}
	want := before.Clone()
	want.Counter = c + 1
	want.Checkpoint = pos
	want.OwnerSwitchesSinceCheckpoint = 0
	want.PendingCheckpoint = consumer.ExtendedSequenceNumber{}
	want.PendingCheckpointState = nil
	wantLease(t, "stored after Checkpoint", mustGet(t, s, l.Key), want)

	got2, err := s.Checkpoint(ctx, l.Key, "worker-b", got, consumer.ShardEnd)
	if err != nil || got2 != got+1 {
		t.Fatalf("second Checkpoint = %d, %v; want %d", got2, err, got+1)
	}
	if stored := mustGet(t, s, l.Key); !stored.IsFinished() || stored.Checkpoint.SubSequenceNumber != 0 {
		t.Fatalf("after SHARD_END checkpoint: %+v", stored)
	}
}

func testCheckpointInvalid(t *testing.T, s Store) {
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	for _, pos := range []consumer.ExtendedSequenceNumber{
		{},
		{SequenceNumber: "not-a-number"},
		{SequenceNumber: "123", SubSequenceNumber: -1},
		{SequenceNumber: consumer.SentinelShardEnd, SubSequenceNumber: 1},
	} {
		_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter, pos)
		wantErrIs(t, fmt.Sprintf("Checkpoint(%q/%d)", pos.SequenceNumber, pos.SubSequenceNumber), err, consumer.ErrInvalidCheckpoint)
		if errors.Is(err, consumer.ErrLeaseLost) {
			t.Fatalf("invalid position reported as lease lost: %v", err)
		}
		_, err = s.PrepareCheckpoint(t.Context(), l.Key, "worker-a", l.Counter, pos, nil)
		wantErrIs(t, "PrepareCheckpoint of an invalid position", err, consumer.ErrInvalidCheckpoint)
	}
	wantUnchanged(t, s, l)
}

func testCheckpointMissing(t *testing.T, s Store) {
	_, err := s.Checkpoint(t.Context(), "shardId-404", "worker-a", 1, seq(1))
	wantErrIs(t, "Checkpoint of a missing lease", err, consumer.ErrLeaseLost)
	if _, err := s.Get(t.Context(), "shardId-404"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Checkpoint of a missing lease created it: Get says %v", err)
	}
}

func testCheckpointUnowned(t *testing.T, s Store) {
	l := mustCreate(t, s, sampleLease("shardId-000000000001"))
	_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter, seq(1))
	wantErrIs(t, "Checkpoint of an unowned lease", err, consumer.ErrLeaseLost)
	wantUnchanged(t, s, l)
}

func testPrepareCheckpoint(t *testing.T, s Store) {
	ctx := t.Context()
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	c1, err := s.Checkpoint(ctx, l.Key, "worker-a", l.Counter, seq(3))
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	pending := consumer.ExtendedSequenceNumber{SequenceNumber: seq(5).SequenceNumber, SubSequenceNumber: 2}
	c2, err := s.PrepareCheckpoint(ctx, l.Key, "worker-a", c1, pending, []byte{1, 2, 3})
	if err != nil {
		t.Fatalf("PrepareCheckpoint: %v", err)
	}
	if c2 != c1+1 {
		t.Fatalf("PrepareCheckpoint returned counter %d, want %d", c2, c1+1)
	}
	got := mustGet(t, s, l.Key)
	if got.Checkpoint != seq(3) || got.PendingCheckpoint != pending || !bytes.Equal(got.PendingCheckpointState, []byte{1, 2, 3}) || got.Counter != c2 {
		t.Fatalf("after PrepareCheckpoint: %+v", got)
	}

	// Preparing again without state drops the earlier state.
	c3, err := s.PrepareCheckpoint(ctx, l.Key, "worker-a", c2, seq(6), nil)
	if err != nil {
		t.Fatalf("second PrepareCheckpoint: %v", err)
	}
	got = mustGet(t, s, l.Key)
	if got.PendingCheckpoint != seq(6) || got.PendingCheckpointState != nil || got.Checkpoint != seq(3) || got.Counter != c3 {
		t.Fatalf("after second PrepareCheckpoint: %+v", got)
	}

	_, err = s.PrepareCheckpoint(ctx, l.Key, "worker-a", c2, seq(7), nil)
	wantErrIs(t, "PrepareCheckpoint with a stale counter", err, consumer.ErrLeaseLost)
	wantUnchanged(t, s, got)
}

func testRelease(t *testing.T, s Store) {
	ctx := t.Context()
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	stale := l.Clone()
	stale.Counter--
	_, err := s.Release(ctx, stale)
	wantErrIs(t, "Release with a stale counter", err, ErrConditionFailed)
	wantUnchanged(t, s, l)

	got, err := s.Release(ctx, l)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	want := l.Clone()
	want.Owner = ""
	want.Counter++
	wantLease(t, "Release result", got, want)
	wantLease(t, "stored after Release", mustGet(t, s, l.Key), want)
	awaitKeys(t, s, "worker-a", nil)

	_, err = s.Checkpoint(ctx, l.Key, "worker-a", l.Counter, seq(1))
	wantErrIs(t, "Checkpoint after Release", err, consumer.ErrLeaseLost)
	mustTake(t, s, got, "worker-b")
}

func testHandoff(t *testing.T, s Store) {
	ctx := t.Context()
	a := ownedLease(t, s, "shardId-000000000001", "worker-a")

	stale := a.Clone()
	stale.Counter--
	_, err := s.StartHandoff(ctx, stale, "worker-b")
	wantErrIs(t, "StartHandoff with a stale counter", err, ErrConditionFailed)
	wrongOwner := a.Clone()
	wrongOwner.Owner = "worker-c"
	_, err = s.StartHandoff(ctx, wrongOwner, "worker-b")
	wantErrIs(t, "StartHandoff from a non-owner", err, ErrConditionFailed)
	wantUnchanged(t, s, a)

	h, err := s.StartHandoff(ctx, a, "worker-b")
	if err != nil {
		t.Fatalf("StartHandoff: %v", err)
	}
	want := a.Clone()
	want.Owner = "worker-b"
	want.CheckpointOwner = "worker-a"
	want.Counter++
	wantLease(t, "StartHandoff result", h, want)
	wantLease(t, "stored after StartHandoff", mustGet(t, s, a.Key), want)
	if !h.HandoffPending() {
		t.Fatal("HandoffPending false during a hand-off")
	}

	// The new owner may neither checkpoint nor pass the lease on until the
	// old owner has finished.
	_, err = s.Checkpoint(ctx, h.Key, "worker-b", h.Counter, seq(1))
	wantErrIs(t, "new owner's Checkpoint during the hand-off", err, consumer.ErrLeaseLost)
	_, err = s.StartHandoff(ctx, h, "worker-c")
	wantErrIs(t, "second StartHandoff during the hand-off", err, ErrConditionFailed)
	_, err = s.CompleteHandoff(ctx, h.Key, "worker-b")
	wantErrIs(t, "CompleteHandoff by the new owner", err, ErrConditionFailed)
	wantUnchanged(t, s, h)

	// The old owner checkpoints at whatever counter it knows: the hand-off
	// itself moved the counter on.
	c, err := s.Checkpoint(ctx, h.Key, "worker-a", a.Counter, seq(3))
	if err != nil {
		t.Fatalf("old owner's Checkpoint during the hand-off: %v", err)
	}
	if c != h.Counter+1 {
		t.Fatalf("old owner's Checkpoint returned %d, want %d", c, h.Counter+1)
	}
	c, err = s.SetChildShards(ctx, h.Key, "worker-a", 0, []string{"shardId-000000000002"})
	if err != nil {
		t.Fatalf("old owner's SetChildShards during the hand-off: %v", err)
	}

	done, err := s.CompleteHandoff(ctx, h.Key, "worker-a")
	if err != nil {
		t.Fatalf("CompleteHandoff: %v", err)
	}
	if done.CheckpointOwner != "" || done.Owner != "worker-b" || done.Counter != c+1 || done.Checkpoint != seq(3) {
		t.Fatalf("after CompleteHandoff: %+v", done)
	}
	wantLease(t, "stored after CompleteHandoff", mustGet(t, s, h.Key), done)

	_, err = s.CompleteHandoff(ctx, h.Key, "worker-a")
	wantErrIs(t, "second CompleteHandoff", err, ErrConditionFailed)
	_, err = s.Checkpoint(ctx, h.Key, "worker-a", done.Counter, seq(4))
	wantErrIs(t, "old owner's Checkpoint after the hand-off", err, consumer.ErrLeaseLost)
	wantUnchanged(t, s, done)
	if _, err := s.Checkpoint(ctx, h.Key, "worker-b", done.Counter, seq(4)); err != nil {
		t.Fatalf("new owner's Checkpoint after the hand-off: %v", err)
	}
}

func testHandoffForcedByTake(t *testing.T, s Store) {
	ctx := t.Context()
	a := ownedLease(t, s, "shardId-000000000001", "worker-a")
	h, err := s.StartHandoff(ctx, a, "worker-b")
	if err != nil {
		t.Fatalf("StartHandoff: %v", err)
	}
	// The old owner stalled: the transfer is forced by taking the lease
	// as it stands, which ends the hand-off.
	forced := mustTake(t, s, h, "worker-b")
	if forced.CheckpointOwner != "" || forced.Owner != "worker-b" || forced.Counter != h.Counter+1 {
		t.Fatalf("after forcing the hand-off: %+v", forced)
	}
	_, err = s.Checkpoint(ctx, a.Key, "worker-a", a.Counter, seq(1))
	wantErrIs(t, "stalled old owner's Checkpoint", err, consumer.ErrLeaseLost)
	_, err = s.CompleteHandoff(ctx, a.Key, "worker-a")
	wantErrIs(t, "stalled old owner's CompleteHandoff", err, ErrConditionFailed)
}

func testHandoffMissing(t *testing.T, s Store) {
	l := sampleLease("shardId-404")
	l.Owner = "worker-a"
	_, err := s.StartHandoff(t.Context(), l, "worker-b")
	wantErrIs(t, "StartHandoff of a missing lease", err, ErrNotFound)
	_, err = s.CompleteHandoff(t.Context(), l.Key, "worker-a")
	wantErrIs(t, "CompleteHandoff of a missing lease", err, ErrNotFound)
}

func testSetChildShards(t *testing.T, s Store) {
	ctx := t.Context()
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	c, err := s.SetChildShards(ctx, l.Key, "worker-a", l.Counter, []string{"shardId-000000000003", "shardId-000000000002", "shardId-000000000003"})
	if err != nil {
		t.Fatalf("SetChildShards: %v", err)
	}
	want := l.Clone()
	want.ChildShardIDs = []string{"shardId-000000000002", "shardId-000000000003"}
	want.Counter = l.Counter + 1
	if c != want.Counter {
		t.Fatalf("SetChildShards returned counter %d, want %d", c, want.Counter)
	}
	wantLease(t, "stored after SetChildShards", mustGet(t, s, l.Key), want)

	_, err = s.SetChildShards(ctx, l.Key, "worker-b", c, []string{"x"})
	wantErrIs(t, "SetChildShards by a non-owner", err, consumer.ErrLeaseLost)
	wantUnchanged(t, s, want)
}

func testDelete(t *testing.T, s Store) {
	ctx := t.Context()
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	err := s.Delete(ctx, l.Key, l.Counter-1)
	wantErrIs(t, "Delete with a stale counter", err, ErrConditionFailed)
	wantUnchanged(t, s, l)
	if err := s.Delete(ctx, l.Key, l.Counter); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, l.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, l.Key, l.Counter); err != nil {
		t.Fatalf("Delete of an absent lease: %v", err)
	}
	if err := s.Delete(ctx, "never-existed", 7); err != nil {
		t.Fatalf("Delete of a never-created lease: %v", err)
	}
}

func testListPaginated(t *testing.T, s Store) {
	ctx := t.Context()
	if got, err := s.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List of an empty table = %d leases, %v", len(got), err)
	}
	const n = 120
	want := make([]Lease, 0, n)
	for i := range n {
		l := sampleLease(fmt.Sprintf("shardId-%012d", i))
		if i%3 == 0 {
			l.Owner = fmt.Sprintf("worker-%d", i%2)
			l.Counter = int64(i)
		}
		l.Checkpoint = seq(i)
		mustCreate(t, s, l)
		want = append(want, normalizeLease(l))
	}
	got, err := s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != n {
		t.Fatalf("List returned %d leases, want %d", len(got), n)
	}
	for i := range want {
		wantLease(t, fmt.Sprintf("List()[%d]", i), got[i], want[i])
	}
}

func testListKeysByOwner(t *testing.T, s Store) {
	var wantA, wantB []string
	for i := range 30 { // more than a page for each owner (the Dynamo tests page by 7)
		l := mustCreate(t, s, sampleLease(fmt.Sprintf("shardId-%012d", i)))
		switch i % 3 {
		case 0:
			mustTake(t, s, l, "worker-a")
			wantA = append(wantA, l.Key)
		case 1:
			mustTake(t, s, l, "worker-b")
			wantB = append(wantB, l.Key)
		}
	}
	awaitKeys(t, s, "worker-a", wantA)
	awaitKeys(t, s, "worker-b", wantB)
	awaitKeys(t, s, "worker-nobody", nil)
}

func testInvalidArguments(t *testing.T, s Store) {
	ctx := t.Context()
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	checks := map[string]error{}
	_, checks["Get empty key"] = s.Get(ctx, "")
	_, checks["Take to nobody"] = s.Take(ctx, l, "")
	_, checks["Take empty key"] = s.Take(ctx, Lease{}, "worker-b")
	_, checks["Release empty key"] = s.Release(ctx, Lease{})
	_, checks["StartHandoff to the owner"] = s.StartHandoff(ctx, l, "worker-a")
	_, checks["StartHandoff to nobody"] = s.StartHandoff(ctx, l, "")
	_, checks["CompleteHandoff empty owner"] = s.CompleteHandoff(ctx, l.Key, "")
	_, checks["Checkpoint empty owner"] = s.Checkpoint(ctx, l.Key, "", l.Counter, seq(1))
	_, checks["SetChildShards empty key"] = s.SetChildShards(ctx, "", "worker-a", l.Counter, nil)
	_, checks["ListKeysByOwner empty owner"] = s.ListKeysByOwner(ctx, "")
	checks["Delete empty key"] = s.Delete(ctx, "", 0)
	for what, err := range checks {
		if err == nil {
			t.Errorf("%s: no error", what)
			continue
		}
		for _, sentinel := range []error{ErrConditionFailed, ErrNotFound, consumer.ErrLeaseLost} {
			if errors.Is(err, sentinel) {
				t.Errorf("%s: %v is %v; an invalid argument is not a lease state", what, err, sentinel)
			}
		}
	}
	wantUnchanged(t, s, l)
}

func testCopies(t *testing.T, s Store) {
	ctx := t.Context()
	in := sampleLease("shardId-000000000001")
	in.Owner = "worker-a"
	in.ChildShardIDs = []string{"c1"}
	mustCreate(t, s, in)
	in.ParentShardIDs[0] = "mutated"
	in.ChildShardIDs[0] = "mutated"

	got := mustGet(t, s, in.Key)
	got.ParentShardIDs[0] = "mutated"
	got.ChildShardIDs[0] = "mutated"
	state := []byte("state")
	if _, err := s.PrepareCheckpoint(ctx, in.Key, "worker-a", got.Counter, seq(1), state); err != nil {
		t.Fatalf("PrepareCheckpoint: %v", err)
	}
	state[0] = 'X'

	again := mustGet(t, s, in.Key)
	if again.ParentShardIDs[0] != "shardId-000000000000" || again.ChildShardIDs[0] != "c1" || string(again.PendingCheckpointState) != "state" {
		t.Fatalf("stored lease changed through a caller's slice: %+v", again)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	list[0].PendingCheckpointState[0] = 'Y'
	if string(mustGet(t, s, in.Key).PendingCheckpointState) != "state" {
		t.Fatal("stored state changed through List's result")
	}
}

func testCancelledContext(t *testing.T, s Store) {
	l := ownedLease(t, s, "shardId-000000000001", "worker-a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Take(ctx, l, "worker-b"); !errors.Is(err, context.Canceled) {
		t.Errorf("Take with a cancelled context: %v", err)
	}
	if _, err := s.Checkpoint(ctx, l.Key, "worker-a", l.Counter, seq(1)); !errors.Is(err, context.Canceled) || errors.Is(err, consumer.ErrLeaseLost) {
		t.Errorf("Checkpoint with a cancelled context: %v", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
	if err := s.EnsureTable(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureTable with a cancelled context: %v", err)
	}
	wantUnchanged(t, s, l)
}
