package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

func TestSetCheckpointUnowned(t *testing.T) {
	f := newFixture(t, "setcp")
	seedLeases(t, f)
	ctx := context.Background()
	key := "shardId-000000000003" // unassigned, at LATEST, counter 0

	out, stderr, code := cli(t, "set-checkpoint", "-table", f.app, "-shard", key, "-to", "TRIM_HORIZON")
	if code != 0 || !strings.Contains(out, "Dry run: would write it on condition that the lease is still at counter 0") {
		t.Fatalf("dry run: exit %d: %s\n%s", code, stderr, out)
	}
	if l, _ := f.leases.Get(ctx, key); l.Checkpoint != consumer.Latest || l.Counter != 0 {
		t.Fatalf("dry run wrote: %+v", l)
	}

	out, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", key, "-to", seqA+"/4", "-write", "-json")
	var rep setCheckpointReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || !rep.Written || rep.OwnerState != "none" || rep.NewCounter != 1 {
		t.Fatalf("write: exit %d, %v: %s\n%s", code, err, stderr, out)
	}
	l, _ := f.leases.Get(ctx, key)
	if l.Checkpoint != (consumer.ExtendedSequenceNumber{SequenceNumber: seqA, SubSequenceNumber: 4}) || l.Counter != 1 || l.Owner != "" {
		t.Errorf("after write: %+v", l)
	}

	_, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", "shardId-000000000099", "-to", "LATEST", "-write")
	if code != exitError || !strings.Contains(stderr, `no lease "shardId-000000000099"`) {
		t.Errorf("nonexistent shard: exit %d: %s", code, stderr)
	}
}

func TestSetCheckpointRefusesALiveOwner(t *testing.T) {
	f := newFixture(t, "setcplive")
	seedLeases(t, f)
	ctx := context.Background()
	key := "shardId-000000000001" // owned by w1, counter 7
	rec, err := f.tables.workers.Get(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	// w1 heartbeats while it is watched.
	testHookObserving = func() {
		if rec, err = f.tables.workers.Heartbeat(ctx, rec); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookObserving = nil }()
	out, stderr, code := cli(t, "set-checkpoint", "-table", f.app, "-shard", key, "-to", "TRIM_HORIZON", "-observe", "2s", "-write")
	if code != exitError || !strings.Contains(stderr, "refused: the owner w1 of shardId-000000000001 is live (worker heartbeat 1 -> 2)") {
		t.Errorf("live owner: exit %d: %s\n%s", code, stderr, out)
	}
	if l, _ := f.leases.Get(ctx, key); l.Counter != 7 || l.Checkpoint.SequenceNumber != "49650000000000000001" {
		t.Fatalf("refused move wrote: %+v", l)
	}

	// The Java KCL renews: the lease counter moves while watched.
	testHookObserving = func() {
		l, _ := f.leases.Get(ctx, "shardId-000000000002")
		if _, err := f.leases.Take(ctx, l, "java-host-1"); err != nil {
			t.Error(err)
		}
	}
	_, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", "shardId-000000000002", "-to", "LATEST", "-observe", "2s", "-write")
	if code != exitError || !strings.Contains(stderr, "is live (lease counter 40 -> 41") {
		t.Errorf("renewing Java owner: exit %d: %s", code, stderr)
	}

	// With -force the live owner's lease moves, fenced by the counter.
	testHookObserving = func() {
		if rec, err = f.tables.workers.Heartbeat(ctx, rec); err != nil {
			t.Error(err)
		}
	}
	out, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", key, "-to", "TRIM_HORIZON", "-observe", "2s", "-write", "-force")
	if code != 0 || !strings.Contains(out, "Owner w1: live (worker heartbeat 2 -> 3)") || !strings.Contains(out, "Written: counter 7 -> 8") {
		t.Errorf("force: exit %d: %s\n%s", code, stderr, out)
	}
	l, _ := f.leases.Get(ctx, key)
	if l.Checkpoint != consumer.TrimHorizon || l.Counter != 8 || l.Owner != "w1" {
		t.Errorf("after force: %+v", l)
	}
	// The owner's next checkpoint, at the counter it knew, is fenced.
	if _, err := f.leases.Checkpoint(ctx, key, "w1", 7, consumer.ExtendedSequenceNumber{SequenceNumber: "49650000000000000002"}); err == nil {
		t.Error("the old owner's checkpoint went through after the move")
	}
}

func TestSetCheckpointOwnerGone(t *testing.T) {
	f := newFixture(t, "setcpgone")
	seedLeases(t, f)
	ctx := context.Background()
	// java-host-1 owns shard 2 and nothing moves: gone.
	out, stderr, code := cli(t, "set-checkpoint", "-table", f.app, "-shard", "shardId-000000000002", "-to", seqB, "-observe", "300ms", "-write")
	if code != 0 || !strings.Contains(out, "Owner java-host-1: gone (no worker row and lease counter still 40 for 300ms)") {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	if l, _ := f.leases.Get(ctx, "shardId-000000000002"); l.Checkpoint.SequenceNumber != seqB || l.Counter != 41 || l.Owner != "java-host-1" {
		t.Errorf("after: %+v", l)
	}
	// Owned and not watched: refused without -force.
	_, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", "shardId-000000000002", "-to", "LATEST", "-observe", "0s", "-write")
	if code != exitError || !strings.Contains(stderr, "liveness is unknown") {
		t.Errorf("observe 0: exit %d: %s", code, stderr)
	}
}

func TestSetCheckpointRefusesAHandoffAndAFinishedLease(t *testing.T) {
	f := newFixture(t, "setcpho")
	seedLeases(t, f)
	for key, want := range map[string]string{
		"shardId-000000000004": "a hand-off of shardId-000000000004 from w2 to w1 is in progress",
		"shardId-000000000000": "is finished (SHARD_END)",
	} {
		_, stderr, code := cli(t, "set-checkpoint", "-table", f.app, "-shard", key, "-to", "LATEST", "-observe", "100ms", "-write")
		if code != exitError || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d: %s", key, code, stderr)
		}
	}
}

// TestMoveCheckpointIsFenced: a write between the read and the move (a
// checkpoint by the owner) makes the move fail and change nothing.
func TestMoveCheckpointIsFenced(t *testing.T) {
	f := newFixture(t, "movefence")
	seedLeases(t, f)
	ctx := context.Background()
	read, err := f.leases.Get(ctx, "shardId-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.leases.Checkpoint(ctx, read.Key, "w1", read.Counter, consumer.ExtendedSequenceNumber{SequenceNumber: "49650000000000000005"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.leases.MoveCheckpoint(ctx, read, consumer.TrimHorizon); err == nil || !strings.Contains(err.Error(), leases.ErrConditionFailed.Error()) {
		t.Fatalf("move after a concurrent checkpoint: %v", err)
	}
	if l, _ := f.leases.Get(ctx, read.Key); l.Checkpoint.SequenceNumber != "49650000000000000005" {
		t.Errorf("the owner's checkpoint was overwritten: %+v", l)
	}
	// An unowned lease taken in between: also refused.
	read, _ = f.leases.Get(ctx, "shardId-000000000003")
	if _, err := f.leases.Take(ctx, read, "w9"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.leases.MoveCheckpoint(ctx, read, consumer.TrimHorizon); err == nil {
		t.Fatal("move of a lease taken in between went through")
	}
}
