// Package storesuite holds the contract tests of the lease, worker and
// coordinator stores: every implementation (in memory in package leases,
// DynamoDB in internal/ddbstore) runs the same suite, so the in-memory
// stores other packages test against are held to what DynamoDB does.
package storesuite

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
	"github.com/shardwise/shardwise/internal/leaseargs"
	"github.com/shardwise/shardwise/leases"
)

// Leases checks the Store contract. Every implementation runs it, so
// the in-memory store that other packages test against is held to exactly
// what DynamoDB does. newStore returns a store on its own, empty table;
// EnsureTable has not been called on it.
func Leases(t *testing.T, newStore func(t *testing.T) leases.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s leases.Store)
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
func SampleLease(key string) leases.Lease {
	return leases.Lease{
		Key:             key,
		Checkpoint:      consumer.TrimHorizon,
		ParentShardIDs:  []string{"shardId-000000000000"},
		StartingHashKey: "0",
		EndingHashKey:   "170141183460469231731687303715884105727",
	}
}

func Seq(n int) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: fmt.Sprintf("4959%056d", n)}
}

func MustCreate(t *testing.T, s leases.Store, l leases.Lease) leases.Lease {
	t.Helper()
	created, err := s.Create(t.Context(), l)
	if err != nil || !created {
		t.Fatalf("Create(%s) = %v, %v; want true, nil", l.Key, created, err)
	}
	return MustGet(t, s, l.Key)
}

func MustGet(t *testing.T, s leases.Store, key string) leases.Lease {
	t.Helper()
	l, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return l
}

func MustTake(t *testing.T, s leases.Store, l leases.Lease, owner string) leases.Lease {
	t.Helper()
	got, err := s.Take(t.Context(), l, owner)
	if err != nil {
		t.Fatalf("Take(%s, %s): %v", l.Key, owner, err)
	}
	return got
}

// ownedLease creates a sample lease and has owner take it.
func OwnedLease(t *testing.T, s leases.Store, key, owner string) leases.Lease {
	t.Helper()
	return MustTake(t, s, MustCreate(t, s, SampleLease(key)), owner)
}

func WantLease(t *testing.T, what string, got, want leases.Lease) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func WantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want errors.Is %v", what, err, target)
	}
}

// wantUnchanged checks that the stored lease still equals before.
func WantUnchanged(t *testing.T, s leases.Store, before leases.Lease) {
	t.Helper()
	WantLease(t, "stored lease after a refused write", MustGet(t, s, before.Key), before)
}

// awaitKeys waits for ListKeysByOwner to answer want: the owner index is
// only eventually consistent on DynamoDB.
func AwaitKeys(t *testing.T, s leases.Store, owner string, want []string) {
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

func testEnsureTable(t *testing.T, s leases.Store) {
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
	MustCreate(t, s, SampleLease("shardId-000000000001"))
}

func testCreateIfAbsent(t *testing.T, s leases.Store) {
	first := MustCreate(t, s, SampleLease("shardId-000000000001"))
	other := SampleLease("shardId-000000000001")
	other.Owner = "intruder"
	other.Counter = 42
	other.Checkpoint = Seq(9)
	created, err := s.Create(t.Context(), other)
	if err != nil || created {
		t.Fatalf("second Create = %v, %v; want false, nil", created, err)
	}
	WantUnchanged(t, s, first)
}

func testCreateRoundTrip(t *testing.T, s leases.Store) {
	l := leases.Lease{
		Key:                          "shardId-000000000007",
		Owner:                        "worker-a",
		Counter:                      17,
		Checkpoint:                   consumer.ExtendedSequenceNumber{SequenceNumber: Seq(5).SequenceNumber, SubSequenceNumber: 3},
		PendingCheckpoint:            consumer.ExtendedSequenceNumber{SequenceNumber: Seq(6).SequenceNumber, SubSequenceNumber: 1},
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
	got := MustCreate(t, s, l)
	WantLease(t, "lease read back", got, want)

	bare := MustCreate(t, s, leases.Lease{Key: "bare"})
	WantLease(t, "bare lease read back", bare, leases.Lease{Key: "bare"})
}

func testCreateRejectsInvalid(t *testing.T, s leases.Store) {
	bad := map[string]leases.Lease{
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
			if _, err := s.Get(t.Context(), l.Key); !errors.Is(err, leases.ErrNotFound) {
				t.Errorf("Create(%s) refused but Get says %v", what, err)
			}
		}
	}
}

func nanFloat() float64 {
	zero := 0.0
	return zero / zero
}

func testGetMissing(t *testing.T, s leases.Store) {
	_, err := s.Get(t.Context(), "shardId-404")
	WantErrIs(t, "Get of a missing lease", err, leases.ErrNotFound)
}

func testTakeUnowned(t *testing.T, s leases.Store) {
	l := MustCreate(t, s, SampleLease("shardId-000000000001"))
	got := MustTake(t, s, l, "worker-a")
	want := l.Clone()
	want.Owner = "worker-a"
	want.Counter = l.Counter + 1
	want.OwnerSwitchesSinceCheckpoint = l.OwnerSwitchesSinceCheckpoint + 1
	WantLease(t, "Take result", got, want)
	WantLease(t, "stored after Take", MustGet(t, s, l.Key), want)
}

func testTakeStaleCounter(t *testing.T, s leases.Store) {
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	stale := l.Clone()
	stale.Counter--
	_, err := s.Take(t.Context(), stale, "worker-b")
	WantErrIs(t, "Take with a stale counter", err, leases.ErrConditionFailed)
	if errors.Is(err, leases.ErrNotFound) {
		t.Fatalf("Take with a stale counter: %v is also ErrNotFound", err)
	}
	WantUnchanged(t, s, l)
}

func testTakeWrongOwner(t *testing.T, s leases.Store) {
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	unowned := l.Clone()
	unowned.Owner = ""
	_, err := s.Take(t.Context(), unowned, "worker-b")
	WantErrIs(t, "Take expecting an unowned lease", err, leases.ErrConditionFailed)
	other := l.Clone()
	other.Owner = "worker-c"
	_, err = s.Take(t.Context(), other, "worker-b")
	WantErrIs(t, "Take expecting another owner", err, leases.ErrConditionFailed)
	WantUnchanged(t, s, l)
}

func testTakeByAnotherWorker(t *testing.T, s leases.Store) {
	ctx := t.Context()
	a := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	cp, err := s.Checkpoint(ctx, a.Key, "worker-a", a.Counter, Seq(1))
	if err != nil {
		t.Fatalf("owner's Checkpoint: %v", err)
	}
	a = MustGet(t, s, a.Key)
	if a.Counter != cp {
		t.Fatalf("Checkpoint returned counter %d, stored %d", cp, a.Counter)
	}

	b := MustTake(t, s, a, "worker-b")
	if b.Owner != "worker-b" || b.Counter != a.Counter+1 || b.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("after Take by worker-b: %+v", b)
	}

	_, err = s.Checkpoint(ctx, a.Key, "worker-a", a.Counter, Seq(2))
	WantErrIs(t, "old owner's Checkpoint", err, consumer.ErrLeaseLost)
	_, err = s.Checkpoint(ctx, a.Key, "worker-a", b.Counter, Seq(2))
	WantErrIs(t, "old owner's Checkpoint at the new counter", err, consumer.ErrLeaseLost)
	_, err = s.PrepareCheckpoint(ctx, a.Key, "worker-a", a.Counter, Seq(2), nil)
	WantErrIs(t, "old owner's PrepareCheckpoint", err, consumer.ErrLeaseLost)
	_, err = s.Release(ctx, a)
	WantErrIs(t, "old owner's Release", err, leases.ErrConditionFailed)
	WantUnchanged(t, s, b)

	if _, err := s.Checkpoint(ctx, b.Key, "worker-b", b.Counter, Seq(2)); err != nil {
		t.Fatalf("new owner's Checkpoint: %v", err)
	}
	if got := MustGet(t, s, b.Key).Checkpoint; got != Seq(2) {
		t.Fatalf("checkpoint %v, want %v", got, Seq(2))
	}
}

func testTakeBySameOwner(t *testing.T, s leases.Store) {
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	got := MustTake(t, s, l, "worker-a")
	want := l.Clone()
	want.Counter++
	WantLease(t, "retaking an owned lease", got, want)
}

func testTakeMissing(t *testing.T, s leases.Store) {
	_, err := s.Take(t.Context(), SampleLease("shardId-404"), "worker-a")
	WantErrIs(t, "Take of a missing lease", err, leases.ErrNotFound)
	if _, err := s.Get(t.Context(), "shardId-404"); !errors.Is(err, leases.ErrNotFound) {
		t.Fatalf("Take of a missing lease created it: Get says %v", err)
	}
	_, err = s.Release(t.Context(), SampleLease("shardId-404"))
	WantErrIs(t, "Release of a missing lease", err, leases.ErrNotFound)
}

func testTakeRace(t *testing.T, s leases.Store) {
	l := MustCreate(t, s, SampleLease("shardId-000000000001"))
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
		case !errors.Is(err, leases.ErrConditionFailed):
			t.Fatalf("worker-%d: %v, want ErrConditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no worker took the lease")
	}
	got := MustGet(t, s, l.Key)
	if got.Owner != fmt.Sprintf("worker-%d", winner) || got.Counter != l.Counter+1 {
		t.Fatalf("stored %+v, want owner worker-%d at counter %d", got, winner, l.Counter+1)
	}
}

func testCheckpointStaleCounter(t *testing.T, s leases.Store) {
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter-1, Seq(1))
	WantErrIs(t, "Checkpoint with a stale counter", err, consumer.ErrLeaseLost)
	_, err = s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter+1, Seq(1))
	WantErrIs(t, "Checkpoint with a future counter", err, consumer.ErrLeaseLost)
	_, err = s.SetChildShards(t.Context(), l.Key, "worker-a", l.Counter-1, []string{"c"})
	WantErrIs(t, "SetChildShards with a stale counter", err, consumer.ErrLeaseLost)
	WantUnchanged(t, s, l)
}

func testCheckpointEffects(t *testing.T, s leases.Store) {
	ctx := t.Context()
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	l = MustTake(t, s, l, "worker-b") // two owner switches since the checkpoint
	c, err := s.PrepareCheckpoint(ctx, l.Key, "worker-b", l.Counter, Seq(7), []byte("state"))
	if err != nil {
		t.Fatalf("PrepareCheckpoint: %v", err)
	}
	before := MustGet(t, s, l.Key)
	if before.OwnerSwitchesSinceCheckpoint != 2 || before.PendingCheckpoint.IsZero() {
		t.Fatalf("set-up: %+v", before)
	}

	pos := consumer.ExtendedSequenceNumber{SequenceNumber: Seq(7).SequenceNumber, SubSequenceNumber: 4}
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
	WantLease(t, "stored after Checkpoint", MustGet(t, s, l.Key), want)

	got2, err := s.Checkpoint(ctx, l.Key, "worker-b", got, consumer.ShardEnd)
	if err != nil || got2 != got+1 {
		t.Fatalf("second Checkpoint = %d, %v; want %d", got2, err, got+1)
	}
	if stored := MustGet(t, s, l.Key); !stored.IsFinished() || stored.Checkpoint.SubSequenceNumber != 0 {
		t.Fatalf("after SHARD_END checkpoint: %+v", stored)
	}
}

func testCheckpointInvalid(t *testing.T, s leases.Store) {
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	for _, pos := range []consumer.ExtendedSequenceNumber{
		{},
		{SequenceNumber: "not-a-number"},
		{SequenceNumber: "123", SubSequenceNumber: -1},
		{SequenceNumber: consumer.ShardEnd.SequenceNumber, SubSequenceNumber: 1},
	} {
		_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter, pos)
		WantErrIs(t, fmt.Sprintf("Checkpoint(%q/%d)", pos.SequenceNumber, pos.SubSequenceNumber), err, consumer.ErrInvalidCheckpoint)
		if errors.Is(err, consumer.ErrLeaseLost) {
			t.Fatalf("invalid position reported as lease lost: %v", err)
		}
		_, err = s.PrepareCheckpoint(t.Context(), l.Key, "worker-a", l.Counter, pos, nil)
		WantErrIs(t, "PrepareCheckpoint of an invalid position", err, consumer.ErrInvalidCheckpoint)
	}
	WantUnchanged(t, s, l)
}

func testCheckpointMissing(t *testing.T, s leases.Store) {
	_, err := s.Checkpoint(t.Context(), "shardId-404", "worker-a", 1, Seq(1))
	WantErrIs(t, "Checkpoint of a missing lease", err, consumer.ErrLeaseLost)
	if _, err := s.Get(t.Context(), "shardId-404"); !errors.Is(err, leases.ErrNotFound) {
		t.Fatalf("Checkpoint of a missing lease created it: Get says %v", err)
	}
}

func testCheckpointUnowned(t *testing.T, s leases.Store) {
	l := MustCreate(t, s, SampleLease("shardId-000000000001"))
	_, err := s.Checkpoint(t.Context(), l.Key, "worker-a", l.Counter, Seq(1))
	WantErrIs(t, "Checkpoint of an unowned lease", err, consumer.ErrLeaseLost)
	WantUnchanged(t, s, l)
}

func testPrepareCheckpoint(t *testing.T, s leases.Store) {
	ctx := t.Context()
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	c1, err := s.Checkpoint(ctx, l.Key, "worker-a", l.Counter, Seq(3))
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	pending := consumer.ExtendedSequenceNumber{SequenceNumber: Seq(5).SequenceNumber, SubSequenceNumber: 2}
	c2, err := s.PrepareCheckpoint(ctx, l.Key, "worker-a", c1, pending, []byte{1, 2, 3})
	if err != nil {
		t.Fatalf("PrepareCheckpoint: %v", err)
	}
	if c2 != c1+1 {
		t.Fatalf("PrepareCheckpoint returned counter %d, want %d", c2, c1+1)
	}
	got := MustGet(t, s, l.Key)
	if got.Checkpoint != Seq(3) || got.PendingCheckpoint != pending || !bytes.Equal(got.PendingCheckpointState, []byte{1, 2, 3}) || got.Counter != c2 {
		t.Fatalf("after PrepareCheckpoint: %+v", got)
	}

	// Preparing again without state drops the earlier state.
	c3, err := s.PrepareCheckpoint(ctx, l.Key, "worker-a", c2, Seq(6), nil)
	if err != nil {
		t.Fatalf("second PrepareCheckpoint: %v", err)
	}
	got = MustGet(t, s, l.Key)
	if got.PendingCheckpoint != Seq(6) || got.PendingCheckpointState != nil || got.Checkpoint != Seq(3) || got.Counter != c3 {
		t.Fatalf("after second PrepareCheckpoint: %+v", got)
	}

	_, err = s.PrepareCheckpoint(ctx, l.Key, "worker-a", c2, Seq(7), nil)
	WantErrIs(t, "PrepareCheckpoint with a stale counter", err, consumer.ErrLeaseLost)
	WantUnchanged(t, s, got)
}

func testRelease(t *testing.T, s leases.Store) {
	ctx := t.Context()
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	stale := l.Clone()
	stale.Counter--
	_, err := s.Release(ctx, stale)
	WantErrIs(t, "Release with a stale counter", err, leases.ErrConditionFailed)
	WantUnchanged(t, s, l)

	got, err := s.Release(ctx, l)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	want := l.Clone()
	want.Owner = ""
	want.Counter++
	WantLease(t, "Release result", got, want)
	WantLease(t, "stored after Release", MustGet(t, s, l.Key), want)
	AwaitKeys(t, s, "worker-a", nil)

	_, err = s.Checkpoint(ctx, l.Key, "worker-a", l.Counter, Seq(1))
	WantErrIs(t, "Checkpoint after Release", err, consumer.ErrLeaseLost)
	MustTake(t, s, got, "worker-b")
}

func testHandoff(t *testing.T, s leases.Store) {
	ctx := t.Context()
	a := OwnedLease(t, s, "shardId-000000000001", "worker-a")

	stale := a.Clone()
	stale.Counter--
	_, err := s.StartHandoff(ctx, stale, "worker-b")
	WantErrIs(t, "StartHandoff with a stale counter", err, leases.ErrConditionFailed)
	wrongOwner := a.Clone()
	wrongOwner.Owner = "worker-c"
	_, err = s.StartHandoff(ctx, wrongOwner, "worker-b")
	WantErrIs(t, "StartHandoff from a non-owner", err, leases.ErrConditionFailed)
	WantUnchanged(t, s, a)

	h, err := s.StartHandoff(ctx, a, "worker-b")
	if err != nil {
		t.Fatalf("StartHandoff: %v", err)
	}
	want := a.Clone()
	want.Owner = "worker-b"
	want.CheckpointOwner = "worker-a"
	want.Counter++
	WantLease(t, "StartHandoff result", h, want)
	WantLease(t, "stored after StartHandoff", MustGet(t, s, a.Key), want)
	if !h.HandoffPending() {
		t.Fatal("HandoffPending false during a hand-off")
	}

	// The new owner may neither checkpoint nor pass the lease on until the
	// old owner has finished.
	_, err = s.Checkpoint(ctx, h.Key, "worker-b", h.Counter, Seq(1))
	WantErrIs(t, "new owner's Checkpoint during the hand-off", err, consumer.ErrLeaseLost)
	_, err = s.StartHandoff(ctx, h, "worker-c")
	WantErrIs(t, "second StartHandoff during the hand-off", err, leases.ErrConditionFailed)
	_, err = s.CompleteHandoff(ctx, h.Key, "worker-b")
	WantErrIs(t, "CompleteHandoff by the new owner", err, leases.ErrConditionFailed)
	WantUnchanged(t, s, h)

	// The old owner checkpoints at whatever counter it knows: the hand-off
	// itself moved the counter on.
	c, err := s.Checkpoint(ctx, h.Key, "worker-a", a.Counter, Seq(3))
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
	if done.CheckpointOwner != "" || done.Owner != "worker-b" || done.Counter != c+1 || done.Checkpoint != Seq(3) {
		t.Fatalf("after CompleteHandoff: %+v", done)
	}
	WantLease(t, "stored after CompleteHandoff", MustGet(t, s, h.Key), done)

	_, err = s.CompleteHandoff(ctx, h.Key, "worker-a")
	WantErrIs(t, "second CompleteHandoff", err, leases.ErrConditionFailed)
	_, err = s.Checkpoint(ctx, h.Key, "worker-a", done.Counter, Seq(4))
	WantErrIs(t, "old owner's Checkpoint after the hand-off", err, consumer.ErrLeaseLost)
	WantUnchanged(t, s, done)
	if _, err := s.Checkpoint(ctx, h.Key, "worker-b", done.Counter, Seq(4)); err != nil {
		t.Fatalf("new owner's Checkpoint after the hand-off: %v", err)
	}
}

func testHandoffForcedByTake(t *testing.T, s leases.Store) {
	ctx := t.Context()
	a := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	h, err := s.StartHandoff(ctx, a, "worker-b")
	if err != nil {
		t.Fatalf("StartHandoff: %v", err)
	}
	// The old owner stalled: the transfer is forced by taking the lease
	// as it stands, which ends the hand-off.
	forced := MustTake(t, s, h, "worker-b")
	if forced.CheckpointOwner != "" || forced.Owner != "worker-b" || forced.Counter != h.Counter+1 {
		t.Fatalf("after forcing the hand-off: %+v", forced)
	}
	_, err = s.Checkpoint(ctx, a.Key, "worker-a", a.Counter, Seq(1))
	WantErrIs(t, "stalled old owner's Checkpoint", err, consumer.ErrLeaseLost)
	_, err = s.CompleteHandoff(ctx, a.Key, "worker-a")
	WantErrIs(t, "stalled old owner's CompleteHandoff", err, leases.ErrConditionFailed)
}

func testHandoffMissing(t *testing.T, s leases.Store) {
	l := SampleLease("shardId-404")
	l.Owner = "worker-a"
	_, err := s.StartHandoff(t.Context(), l, "worker-b")
	WantErrIs(t, "StartHandoff of a missing lease", err, leases.ErrNotFound)
	_, err = s.CompleteHandoff(t.Context(), l.Key, "worker-a")
	WantErrIs(t, "CompleteHandoff of a missing lease", err, leases.ErrNotFound)
}

func testSetChildShards(t *testing.T, s leases.Store) {
	ctx := t.Context()
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
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
	WantLease(t, "stored after SetChildShards", MustGet(t, s, l.Key), want)

	_, err = s.SetChildShards(ctx, l.Key, "worker-b", c, []string{"x"})
	WantErrIs(t, "SetChildShards by a non-owner", err, consumer.ErrLeaseLost)
	WantUnchanged(t, s, want)
}

func testDelete(t *testing.T, s leases.Store) {
	ctx := t.Context()
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	err := s.Delete(ctx, l.Key, l.Counter-1)
	WantErrIs(t, "Delete with a stale counter", err, leases.ErrConditionFailed)
	WantUnchanged(t, s, l)
	if err := s.Delete(ctx, l.Key, l.Counter); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, l.Key); !errors.Is(err, leases.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, l.Key, l.Counter); err != nil {
		t.Fatalf("Delete of an absent lease: %v", err)
	}
	if err := s.Delete(ctx, "never-existed", 7); err != nil {
		t.Fatalf("Delete of a never-created lease: %v", err)
	}
}

func testListPaginated(t *testing.T, s leases.Store) {
	ctx := t.Context()
	if got, err := s.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List of an empty table = %d leases, %v", len(got), err)
	}
	const n = 120
	want := make([]leases.Lease, 0, n)
	for i := range n {
		l := SampleLease(fmt.Sprintf("shardId-%012d", i))
		if i%3 == 0 {
			l.Owner = fmt.Sprintf("worker-%d", i%2)
			l.Counter = int64(i)
		}
		l.Checkpoint = Seq(i)
		MustCreate(t, s, l)
		want = append(want, normalized(l))
	}
	got, err := s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != n {
		t.Fatalf("List returned %d leases, want %d", len(got), n)
	}
	for i := range want {
		WantLease(t, fmt.Sprintf("List()[%d]", i), got[i], want[i])
	}
}

func testListKeysByOwner(t *testing.T, s leases.Store) {
	var wantA, wantB []string
	for i := range 30 { // more than a page for each owner (the Dynamo tests page by 7)
		l := MustCreate(t, s, SampleLease(fmt.Sprintf("shardId-%012d", i)))
		switch i % 3 {
		case 0:
			MustTake(t, s, l, "worker-a")
			wantA = append(wantA, l.Key)
		case 1:
			MustTake(t, s, l, "worker-b")
			wantB = append(wantB, l.Key)
		}
	}
	AwaitKeys(t, s, "worker-a", wantA)
	AwaitKeys(t, s, "worker-b", wantB)
	AwaitKeys(t, s, "worker-nobody", nil)
}

func testInvalidArguments(t *testing.T, s leases.Store) {
	ctx := t.Context()
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	checks := map[string]error{}
	_, checks["Get empty key"] = s.Get(ctx, "")
	_, checks["Take to nobody"] = s.Take(ctx, l, "")
	_, checks["Take empty key"] = s.Take(ctx, leases.Lease{}, "worker-b")
	_, checks["Release empty key"] = s.Release(ctx, leases.Lease{})
	_, checks["StartHandoff to the owner"] = s.StartHandoff(ctx, l, "worker-a")
	_, checks["StartHandoff to nobody"] = s.StartHandoff(ctx, l, "")
	_, checks["CompleteHandoff empty owner"] = s.CompleteHandoff(ctx, l.Key, "")
	_, checks["Checkpoint empty owner"] = s.Checkpoint(ctx, l.Key, "", l.Counter, Seq(1))
	_, checks["PrepareCheckpoint empty owner"] = s.PrepareCheckpoint(ctx, l.Key, "", l.Counter, Seq(1), nil)
	_, checks["SetChildShards empty key"] = s.SetChildShards(ctx, "", "worker-a", l.Counter, nil)
	_, checks["ListKeysByOwner empty owner"] = s.ListKeysByOwner(ctx, "")
	checks["Delete empty key"] = s.Delete(ctx, "", 0)
	for what, err := range checks {
		if err == nil {
			t.Errorf("%s: no error", what)
			continue
		}
		for _, sentinel := range []error{leases.ErrConditionFailed, leases.ErrNotFound, consumer.ErrLeaseLost} {
			if errors.Is(err, sentinel) {
				t.Errorf("%s: %v is %v; an invalid argument is not a lease state", what, err, sentinel)
			}
		}
	}
	WantUnchanged(t, s, l)
}

func testCopies(t *testing.T, s leases.Store) {
	ctx := t.Context()
	in := SampleLease("shardId-000000000001")
	in.Owner = "worker-a"
	in.ChildShardIDs = []string{"c1"}
	MustCreate(t, s, in)
	in.ParentShardIDs[0] = "mutated"
	in.ChildShardIDs[0] = "mutated"

	got := MustGet(t, s, in.Key)
	got.ParentShardIDs[0] = "mutated"
	got.ChildShardIDs[0] = "mutated"
	state := []byte("state")
	if _, err := s.PrepareCheckpoint(ctx, in.Key, "worker-a", got.Counter, Seq(1), state); err != nil {
		t.Fatalf("PrepareCheckpoint: %v", err)
	}
	state[0] = 'X'

	again := MustGet(t, s, in.Key)
	if again.ParentShardIDs[0] != "shardId-000000000000" || again.ChildShardIDs[0] != "c1" || string(again.PendingCheckpointState) != "state" {
		t.Fatalf("stored lease changed through a caller's slice: %+v", again)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	list[0].PendingCheckpointState[0] = 'Y'
	if string(MustGet(t, s, in.Key).PendingCheckpointState) != "state" {
		t.Fatal("stored state changed through List's result")
	}
}

func testCancelledContext(t *testing.T, s leases.Store) {
	l := OwnedLease(t, s, "shardId-000000000001", "worker-a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Take(ctx, l, "worker-b"); !errors.Is(err, context.Canceled) {
		t.Errorf("Take with a cancelled context: %v", err)
	}
	if _, err := s.Checkpoint(ctx, l.Key, "worker-a", l.Counter, Seq(1)); !errors.Is(err, context.Canceled) || errors.Is(err, consumer.ErrLeaseLost) {
		t.Errorf("Checkpoint with a cancelled context: %v", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
	if err := s.EnsureTable(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureTable with a cancelled context: %v", err)
	}
	WantUnchanged(t, s, l)
}

// normalized is what a store hands back for a created lease: shard-id sets
// sorted and without duplicates, pending state only with a pending
// checkpoint.
func normalized(l leases.Lease) leases.Lease {
	l = l.Clone()
	l.ParentShardIDs = leaseargs.ShardIDs(l.ParentShardIDs)
	l.ChildShardIDs = leaseargs.ShardIDs(l.ChildShardIDs)
	if l.PendingCheckpoint.IsZero() || len(l.PendingCheckpointState) == 0 {
		l.PendingCheckpointState = nil
	}
	if l.Checkpoint.IsZero() {
		l.Checkpoint.SubSequenceNumber = 0
	}
	if l.PendingCheckpoint.IsZero() {
		l.PendingCheckpoint.SubSequenceNumber = 0
	}
	return l
}

// MustList lists every lease or fails the test.
func MustList(t *testing.T, s leases.Store) []leases.Lease {
	t.Helper()
	ls, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ls
}
