package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/seqnum"
	"github.com/shardwise/shardwise/leases"
)

// setCheckpointReport is `shardwise set-checkpoint -json`.
type setCheckpointReport struct {
	LeaseTable string `json:"lease_table"`
	LeaseKey   string `json:"lease_key"`
	From       string `json:"from"`
	To         string `json:"to"`
	// At and Resolved: for -to AT_TIMESTAMP=TIME, the time and which
	// record the new checkpoint is after.
	At       string `json:"at,omitempty"`
	Resolved string `json:"resolved,omitempty"`
	Owner    string `json:"owner,omitempty"`
	Counter  int64  `json:"counter"`
	// OwnerState: "none", "gone" (nothing moved while watched), "live",
	// "not watched".
	OwnerState string `json:"owner_state"`
	Evidence   string `json:"evidence,omitempty"`
	Forced     bool   `json:"forced,omitempty"`
	Write      bool   `json:"write"`
	Written    bool   `json:"written"`
	NewCounter int64  `json:"new_counter,omitempty"`
	Refused    string `json:"refused,omitempty"`
}

// parsePosition reads -to: TRIM_HORIZON, LATEST, AT_TIMESTAMP, or a
// sequence number with an optional /sub-sequence number.
func parsePosition(s string) (consumer.ExtendedSequenceNumber, error) {
	switch s {
	case consumer.TrimHorizon.SequenceNumber:
		return consumer.TrimHorizon, nil
	case consumer.Latest.SequenceNumber:
		return consumer.Latest, nil
	case consumer.AtTimestamp.SequenceNumber:
		return consumer.AtTimestamp, nil
	case "":
		return consumer.ExtendedSequenceNumber{}, usagef("-to is required: TRIM_HORIZON, LATEST, AT_TIMESTAMP or a sequence number")
	case consumer.ShardEnd.SequenceNumber:
		return consumer.ExtendedSequenceNumber{}, usagef("-to SHARD_END would skip the rest of the shard and release its children; not allowed")
	}
	seq, sub, hasSub := strings.Cut(s, "/")
	pos := consumer.ExtendedSequenceNumber{SequenceNumber: seq}
	if hasSub {
		n, err := strconv.ParseInt(sub, 10, 64)
		if err != nil || n < 0 {
			return consumer.ExtendedSequenceNumber{}, usagef("-to %q: sub-sequence number %q is not a non-negative integer", s, sub)
		}
		pos.SubSequenceNumber = n
	}
	if !seqnum.Valid(seq) || pos.Validate() != nil {
		return consumer.ExtendedSequenceNumber{}, usagef("-to %q: want TRIM_HORIZON, LATEST, AT_TIMESTAMP or a sequence number (digits, optionally /SUB)", s)
	}
	return pos, nil
}

// runSetCheckpoint is `shardwise set-checkpoint`: moves one lease's
// checkpoint. The lease is read, its owner (if any) watched for -observe;
// the move is refused while the owner is live (its worker's heartbeat or
// the lease's counter moved) unless -force, and refused during a
// hand-off unless -force. With -write the lease is read again and
// written with a condition on the owner, counter and checkpoint owner
// just read (ddbstore.MoveCheckpoint), so a write in between makes it
// fail and change nothing.
func runSetCheckpoint(ctx context.Context, env *cmdEnv, args []string) error {
	var t target
	fs := newFlags(env, "set-checkpoint", "-table TABLE -shard LEASE_KEY -to POSITION [-write] [-force] [-observe 10s] [-json]")
	t.register(fs)
	shard := fs.String("shard", "", "the lease key (the shard id)")
	to := fs.String("to", "", "TRIM_HORIZON, LATEST, AT_TIMESTAMP=TIME (RFC 3339; needs -stream), AT_TIMESTAMP (the application's InitialPosition timestamp) or a sequence number (SEQ or SEQ/SUB)")
	stream := fs.String("stream", "", "the stream, to resolve AT_TIMESTAMP=TIME to a position")
	kinesisEndpoint := fs.String("kinesis-endpoint", "", "Kinesis endpoint URL for AT_TIMESTAMP=TIME (default: the AWS configuration's; with -local SHARDWISE_KINESIS_ENDPOINT)")
	write := fs.Bool("write", false, "write the new checkpoint (default: print what would be written)")
	force := fs.Bool("force", false, "move it even if the owner is live or a hand-off is pending (the owner then loses the lease and resumes from the new position)")
	observe := fs.Duration("observe", 10*time.Second, "watch an owned lease's owner this long: its heartbeat or the lease counter moving means it is live (set it to the application's FailoverTime or more)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := t.resolve(); err != nil {
		return err
	}
	if *shard == "" {
		return usagef("-shard is required")
	}
	var at time.Time
	if v, ok := strings.CutPrefix(*to, consumer.AtTimestamp.SequenceNumber+"="); ok {
		var err error
		if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return usagef("-to %q: the time must be RFC 3339, like 2026-12-05T10:00:00Z", *to)
		}
		if *stream == "" {
			return usagef("-to AT_TIMESTAMP=TIME needs -stream to find the position of that time")
		}
		*to = ""
	}
	var pos consumer.ExtendedSequenceNumber
	if at.IsZero() {
		var err error
		if pos, err = parsePosition(*to); err != nil {
			return err
		}
	}
	if *observe < 0 {
		return usagef("-observe must not be negative")
	}
	client, err := t.client(ctx)
	if err != nil {
		return err
	}
	tb, err := openTables(client, &t)
	if err != nil {
		return err
	}
	st, err := leaseStore(client, t.table)
	if err != nil {
		return err
	}
	rep := setCheckpointReport{LeaseTable: t.table, LeaseKey: *shard, To: pos.String(), Forced: *force, Write: *write}
	if !at.IsZero() {
		kc, err := t.kinesisClient(ctx, *kinesisEndpoint)
		if err != nil {
			return err
		}
		if pos, rep.Resolved, err = resolveTime(ctx, kc, *stream, shardOf(*shard), at); err != nil {
			return err
		}
		rep.At, rep.To = at.UTC().Format(time.RFC3339Nano), pos.String()
	}
	err = setCheckpoint(ctx, st, tb, &rep, pos, *observe, 250*time.Millisecond)
	var ref *refusal
	if err != nil && !errors.As(err, &ref) {
		return err
	}
	if ref != nil {
		rep.Refused = ref.msg
	}
	if t.json {
		if werr := writeJSON(env.stdout, rep); werr != nil {
			return werr
		}
	} else {
		printSetCheckpoint(env.stdout, rep)
	}
	return err
}

func setCheckpoint(ctx context.Context, st *ddbstore.DynamoStore, tb tables, rep *setCheckpointReport, pos consumer.ExtendedSequenceNumber, observe, poll time.Duration) error {
	if err := requireTable(ctx, tb.client, rep.LeaseTable); err != nil {
		return err
	}
	l, err := st.Get(ctx, rep.LeaseKey)
	if errors.Is(err, leases.ErrNotFound) {
		return fmt.Errorf("no lease %q in table %q", rep.LeaseKey, rep.LeaseTable)
	}
	if err != nil {
		return err
	}
	rep.From, rep.Owner, rep.Counter = l.Checkpoint.String(), l.Owner, l.Counter
	if l.IsFinished() && !rep.Forced {
		return refusef("lease %s is finished (SHARD_END); its children may have started (-force moves it anyway)", l.Key)
	}
	if l.HandoffPending() && !rep.Forced {
		return refusef("a hand-off of %s from %s to %s is in progress; wait for it (-force moves it anyway)", l.Key, l.CheckpointOwner, l.Owner)
	}
	switch {
	case l.Owner == "":
		rep.OwnerState = "none"
	case observe == 0:
		rep.OwnerState = "not watched"
		if !rep.Forced {
			return refusef("lease %s is owned by %s and -observe is 0, so its liveness is unknown (-force moves it anyway)", l.Key, l.Owner)
		}
	default:
		live, evidence, err := watchOwner(ctx, st, tb, l, observe, poll)
		if err != nil {
			return err
		}
		rep.Evidence = evidence
		rep.OwnerState = "gone"
		if live {
			rep.OwnerState = "live"
			if !rep.Forced {
				return refusef("the owner %s of %s is live (%s); stop it, or -force", l.Owner, l.Key, evidence)
			}
		}
	}
	if !rep.Write {
		return nil
	}
	// Read again just before the write and fence the write on what was
	// read: a worker that took, checkpointed or handed the lease on in
	// between makes the condition fail.
	cur, err := st.Get(ctx, l.Key)
	if err != nil {
		return err
	}
	if !rep.Forced && (cur.Owner != l.Owner || cur.Counter != l.Counter || cur.CheckpointOwner != l.CheckpointOwner) {
		return refusef("lease %s changed while it was watched (owner %s counter %d, now %s counter %d); nothing written", l.Key, dash(l.Owner), l.Counter, dash(cur.Owner), cur.Counter)
	}
	moved, err := st.MoveCheckpoint(ctx, cur, pos)
	if errors.Is(err, leases.ErrConditionFailed) || errors.Is(err, leases.ErrNotFound) {
		return refusef("lease %s changed between the read and the write; nothing written", l.Key)
	}
	if err != nil {
		return err
	}
	rep.Written, rep.NewCounter = true, moved.Counter
	return nil
}

// watchOwner watches an owned lease for observe: live if the lease's
// counter or owner changes (the Java KCL renews every lease every few
// seconds) or the owner's Shardwise worker row heartbeats (or appears, or
// restarts with a new session).
func watchOwner(ctx context.Context, st *ddbstore.DynamoStore, tb tables, l leases.Lease, observe, poll time.Duration) (bool, string, error) {
	first, werr := tb.workers.Get(ctx, l.Owner)
	hasRow := werr == nil
	if werr != nil && !errors.Is(werr, leases.ErrNotFound) {
		return false, "", werr
	}
	deadline := time.Now().Add(observe)
	if testHookObserving != nil {
		testHookObserving()
	}
	for {
		select {
		case <-ctx.Done():
			return false, "", ctx.Err()
		case <-time.After(poll):
		}
		cur, err := st.Get(ctx, l.Key)
		if err != nil {
			return false, "", err
		}
		if cur.Counter != l.Counter || cur.Owner != l.Owner {
			return true, fmt.Sprintf("lease counter %d -> %d, owner %s -> %s", l.Counter, cur.Counter, l.Owner, dash(cur.Owner)), nil
		}
		rec, err := tb.workers.Get(ctx, l.Owner)
		switch {
		case err == nil && !hasRow:
			return true, "its worker row appeared", nil
		case err == nil && (rec.SessionID != first.SessionID || rec.Heartbeat != first.Heartbeat):
			return true, fmt.Sprintf("worker heartbeat %d -> %d", first.Heartbeat, rec.Heartbeat), nil
		case err != nil && !errors.Is(err, leases.ErrNotFound):
			return false, "", err
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	why := "no worker row"
	if hasRow {
		why = fmt.Sprintf("worker heartbeat still %d", first.Heartbeat)
	}
	return false, fmt.Sprintf("%s and lease counter still %d for %s", why, l.Counter, observe), nil
}

func printSetCheckpoint(w io.Writer, r setCheckpointReport) {
	fmt.Fprintf(w, "Lease %s in %s: checkpoint %s -> %s\n", r.LeaseKey, r.LeaseTable, dash(r.From), r.To)
	if r.At != "" {
		fmt.Fprintf(w, "Time %s: %s\n", r.At, r.Resolved)
	}
	if r.Owner != "" {
		fmt.Fprintf(w, "Owner %s: %s", r.Owner, r.OwnerState)
		if r.Evidence != "" {
			fmt.Fprintf(w, " (%s)", r.Evidence)
		}
		fmt.Fprintln(w)
	} else if r.OwnerState != "" {
		fmt.Fprintln(w, "Owner: none")
	}
	switch {
	case r.Refused != "":
		fmt.Fprintf(w, "Refused: %s\n", r.Refused)
	case r.Written:
		fmt.Fprintf(w, "Written: counter %d -> %d (a worker holding the lease loses it and resumes from the new checkpoint)\n", r.Counter, r.NewCounter)
	case !r.Write:
		fmt.Fprintf(w, "Dry run: would write it on condition that the lease is still at counter %d; -write writes\n", r.Counter)
	}
}

// shardOf is the shard id of a lease key.
func shardOf(key string) string {
	_, shard := splitLeaseKey(key)
	return shard
}
