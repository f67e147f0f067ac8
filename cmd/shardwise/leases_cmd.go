package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shardwise/shardwise/leases"
)

// leaseRow is one lease as the leases verb (and watch -json) prints it.
type leaseRow struct {
	Key             string   `json:"lease_key"`
	Stream          string   `json:"stream,omitempty"` // a multi-stream lease's stream identifier
	ShardID         string   `json:"shard_id"`
	Owner           string   `json:"owner,omitempty"`
	Checkpoint      string   `json:"checkpoint,omitempty"`
	SubSequence     int64    `json:"checkpoint_sub_sequence,omitempty"`
	Pending         string   `json:"pending_checkpoint,omitempty"`
	Counter         int64    `json:"counter"`
	CheckpointOwner string   `json:"checkpoint_owner,omitempty"`
	Parents         []string `json:"parents,omitempty"`
	Children        []string `json:"children,omitempty"`
	LagMillis       *int64   `json:"lag_ms,omitempty"`
	State           string   `json:"state"`
}

func leaseRows(ls []leases.Lease, lag map[string]map[string]int64) []leaseRow {
	rows := make([]leaseRow, 0, len(ls))
	for _, l := range ls {
		stream, shard := splitLeaseKey(l.Key)
		r := leaseRow{Key: l.Key, Stream: stream, ShardID: shard, Owner: l.Owner, Checkpoint: l.Checkpoint.SequenceNumber, SubSequence: l.Checkpoint.SubSequenceNumber,
			Counter: l.Counter, CheckpointOwner: l.CheckpointOwner, Parents: l.ParentShardIDs, Children: l.ChildShardIDs, State: leaseState(l)}
		if !l.PendingCheckpoint.IsZero() {
			r.Pending = l.PendingCheckpoint.String()
		}
		if ms, ok := leaseLag(lag, l); ok {
			r.LagMillis = &ms
		}
		rows = append(rows, r)
	}
	return rows
}

// leasesReport is `shardwise leases -json`.
type leasesReport struct {
	LeaseTable string      `json:"lease_table"`
	Leases     []leaseRow  `json:"leases"`
	OddItems   []oddItem   `json:"odd_items"`
	Other      []otherItem `json:"other_entities"`
	WorkersErr string      `json:"workers_error,omitempty"`
}

// runLeases is `shardwise leases`: every lease with its owner, checkpoint,
// counter and lag (from the owners' worker records, written with each
// heartbeat), read-only. Items that are not read as leases are listed
// after them.
func runLeases(ctx context.Context, env *cmdEnv, args []string) error {
	t, _, tb, scan, err := openReadOnly(ctx, env, "leases", args)
	if err != nil {
		return err
	}
	rep := leasesReport{LeaseTable: t.table, OddItems: scan.odd, Other: scan.others}
	if rep.OddItems == nil {
		rep.OddItems = []oddItem{}
	}
	if rep.Other == nil {
		rep.Other = []otherItem{}
	}
	workers, werr := tb.workers.List(ctx)
	if werr != nil {
		rep.WorkersErr = werr.Error()
	}
	rep.Leases = leaseRows(scan.leases, lagByOwner(workers))
	if t.json {
		return writeJSON(env.stdout, rep)
	}
	return printLeases(env.stdout, rep)
}

func printLeases(w io.Writer, rep leasesReport) error {
	fmt.Fprintf(w, "Lease table %s: %d leases\n\n", rep.LeaseTable, len(rep.Leases))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	// A multi-stream table gets a STREAM column (the SHARD column then
	// holds the bare shard id); a single-stream one keeps its key.
	multi := false
	for _, r := range rep.Leases {
		multi = multi || r.Stream != ""
	}
	if multi {
		fmt.Fprint(tw, "STREAM\t")
	}
	fmt.Fprintln(tw, "SHARD\tOWNER\tCHECKPOINT\tCOUNTER\tLAG\tPARENTS\tCHILDREN\tSTATE")
	for _, r := range rep.Leases {
		shard := r.Key
		if multi {
			fmt.Fprintf(tw, "%s\t", dash(r.Stream))
			shard = r.ShardID
		}
		cp := r.Checkpoint
		if r.SubSequence != 0 {
			cp = fmt.Sprintf("%s/%d", cp, r.SubSequence)
		}
		if r.Pending != "" {
			cp += " (pending " + r.Pending + ")"
		}
		lag := "-"
		if r.LagMillis != nil {
			lag = fmtMillis(*r.LagMillis, true)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", shard, dash(r.Owner), dash(cp), r.Counter, lag,
			dash(strings.Join(r.Parents, ",")), dash(strings.Join(r.Children, ",")), r.State)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.WorkersErr != "" {
		fmt.Fprintf(w, "\nLag unknown: the worker table could not be read (%s)\n", rep.WorkersErr)
	}
	if len(rep.Other) > 0 {
		fmt.Fprintf(w, "\nOther KCL entities in the table (left alone): %d\n", len(rep.Other))
		for _, o := range rep.Other {
			fmt.Fprintf(w, "  %s  %s\n", o.Key, o.EntityType)
		}
	}
	if len(rep.OddItems) > 0 {
		fmt.Fprintf(w, "\nItems not read as leases: %d\n", len(rep.OddItems))
		for _, o := range rep.OddItems {
			fmt.Fprintf(w, "  %s  %s\n", dash(o.Key), o.Reason)
		}
	}
	return nil
}
