package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// workerRow is one worker as the workers verb prints it.
type workerRow struct {
	ID string `json:"id"`
	// InTable is false for an id that owns leases but has no row in the
	// worker table: a Java KCL worker, or a worker long gone.
	InTable bool `json:"in_worker_table"`
	// Shardwise is whether the row is a Shardwise worker's (a session
	// and a heartbeat); a Java KCL worker-metrics row is not.
	Shardwise    bool      `json:"shardwise_worker"`
	Session      string    `json:"session,omitempty"`
	Heartbeat    int64     `json:"heartbeat"`
	LastUpdate   time.Time `json:"last_update,omitzero"`
	CPUPercent   *float64  `json:"cpu_percent,omitempty"`
	KBps         float64   `json:"kbps"`
	Draining     bool      `json:"draining"`
	Leases       []string  `json:"leases"`
	MaxLagMillis int64     `json:"max_lag_ms"`
}

// workersReport is `shardwise workers -json`.
type workersReport struct {
	WorkersTable        string `json:"workers_table"`
	WorkersTableMissing bool   `json:"workers_table_missing,omitempty"`
	// Leader is Shardwise's leader (its own item, ShardwiseLeader).
	Leader string `json:"leader,omitempty"`
	// JavaLeaderLock is the holder of the Java KCL's leader lock (the
	// item Leader), shown apart: Shardwise leaves it as Java wrote it.
	JavaLeaderLock string      `json:"java_leader_lock,omitempty"`
	Workers        []workerRow `json:"workers"`
}

// runWorkers is `shardwise workers`: the worker records, each with the
// leases it owns, and the leader; read-only. One reading cannot tell a
// live worker from a dead one (liveness is a heartbeat counter seen to
// move): `shardwise watch` can.
func runWorkers(ctx context.Context, env *cmdEnv, args []string) error {
	t, client, tb, scan, err := openReadOnly(ctx, env, "workers", args)
	if err != nil {
		return err
	}
	// Shardwise's records as its workers read them; the other rows
	// (Java KCL worker metrics) as check classifies them.
	recs, err := tb.workers.List(ctx)
	missing := awsapi.IsNotFound(err) // a Java KCL 2.x application has none
	if err != nil && !missing {
		return err
	}
	rows, _, err := readWorkerTable(ctx, client, t.workersTable)
	if err != nil {
		return err
	}
	leader, err := tb.leader(ctx)
	if err != nil {
		return err
	}
	javaLock, err := tb.javaLeaderLock(ctx)
	if err != nil {
		return err
	}
	rep := workersReport{WorkersTable: t.workersTable, WorkersTableMissing: missing, Leader: leader, JavaLeaderLock: javaLock, Workers: []workerRow{}}
	owned := map[string][]string{}
	for _, l := range scan.leases {
		if l.Owner != "" && !l.IsFinished() {
			owned[l.Owner] = append(owned[l.Owner], l.Key)
		}
	}
	seen := map[string]bool{}
	for _, r := range recs {
		row := workerRow{ID: r.ID, InTable: true, Shardwise: true, Session: r.SessionID, Heartbeat: r.Heartbeat, LastUpdate: r.LastUpdate.UTC(), Draining: r.Draining, Leases: owned[r.ID]}
		if c := kclschema.LatestCPU(r.Stats); c >= 0 {
			row.CPUPercent = &c
		}
		for _, v := range r.LeaseThroughput {
			row.KBps += v
		}
		for _, ms := range r.LeaseLag {
			row.MaxLagMillis = max(row.MaxLagMillis, ms)
		}
		if row.Leases == nil {
			row.Leases = []string{}
		}
		seen[r.ID] = true
		rep.Workers = append(rep.Workers, row)
	}
	for _, r := range rows {
		if r.Kind == rowShardwise || seen[r.ID] {
			continue
		}
		row := workerRow{ID: r.ID, InTable: true, Leases: owned[r.ID]}
		if lut := numText(r.Item[kclschema.AttrLastUpdate]); lut != "" {
			if sec, err := strconv.ParseFloat(lut, 64); err == nil {
				row.LastUpdate = time.Unix(int64(sec), 0).UTC()
			}
		}
		if c := kclschema.LatestCPU(statsSeries(r.Item[kclschema.AttrStats])); c >= 0 {
			row.CPUPercent = &c
		}
		if row.Leases == nil {
			row.Leases = []string{}
		}
		seen[r.ID] = true
		rep.Workers = append(rep.Workers, row)
	}
	for owner, keys := range owned {
		if !seen[owner] {
			rep.Workers = append(rep.Workers, workerRow{ID: owner, Leases: keys})
		}
	}
	sort.Slice(rep.Workers, func(i, j int) bool { return rep.Workers[i].ID < rep.Workers[j].ID })
	if t.json {
		return writeJSON(env.stdout, rep)
	}
	return printWorkers(env.stdout, rep)
}

// statsSeries reads a worker-metrics row's sts map (metric -> list of
// numbers), as both the Java KCL and Shardwise write it.
func statsSeries(av types.AttributeValue) map[string][]float64 {
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	out := map[string][]float64{}
	for name, v := range m.Value {
		l, ok := v.(*types.AttributeValueMemberL)
		if !ok {
			continue
		}
		for _, x := range l.Value {
			if f, err := strconv.ParseFloat(numText(x), 64); err == nil {
				out[name] = append(out[name], f)
			}
		}
	}
	return out
}

func printWorkers(w io.Writer, rep workersReport) error {
	fmt.Fprintf(w, "Workers: %d (leader: %s)\n", len(rep.Workers), dash(rep.Leader))
	if rep.JavaLeaderLock != "" {
		fmt.Fprintf(w, "Java KCL leader lock (item %s): held by %s; left as Java wrote it\n", kclschema.CoordLegacyLeaderKey, rep.JavaLeaderLock)
	}
	if rep.WorkersTableMissing {
		fmt.Fprintf(w, "The worker table %s does not exist.\n", rep.WorkersTable)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tLEASES\tCPU%\tKB/S\tMAX LAG\tHEARTBEAT\tLAST UPDATE (its clock)\tSTATE\tHOLDS")
	for _, r := range rep.Workers {
		cpu, state, hb, lut := "-", "alive?", fmt.Sprint(r.Heartbeat), r.LastUpdate.Format(time.RFC3339)
		if r.CPUPercent != nil {
			cpu = fmt.Sprintf("%.0f", *r.CPUPercent)
		}
		switch {
		case !r.InTable:
			state, hb, lut = "not in worker table (Java worker or gone)", "-", "-"
		case !r.Shardwise:
			state, hb = "Java KCL metrics row, not a Shardwise worker", "-"
			if r.LastUpdate.IsZero() {
				lut = "-"
			}
		case r.Draining:
			state = "draining"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\n", r.ID, len(r.Leases), cpu, r.KBps, fmtMillis(r.MaxLagMillis, r.Shardwise), hb, lut, state, dash(strings.Join(r.Leases, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nLiveness is a heartbeat counter seen to change, not a clock: `shardwise watch` shows who is moving.")
	return nil
}
