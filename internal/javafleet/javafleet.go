// Package javafleet tells whether a Java KCL fleet is still running on an
// application's tables, so a Shardwise worker can refuse to take leases
// from it and an operator's check can say what it found.
//
// It reads only (GetItem and Scan) and writes nothing. Liveness is judged
// by change observed over a short window, as Shardwise's leader judges
// its own workers, plus the one freshness rule the Java KCL's own leader
// applies: a worker-metrics row updated within the last 60 seconds (by
// its writer's clock) belongs to a live worker.
package javafleet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// DynamoDB is the part of the DynamoDB API Detect calls (reads only).
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ DynamoDB = awsapi.DynamoDB(nil)

// Tables names an application's three tables. An empty name, or a table
// that does not exist, is not read.
type Tables struct {
	Leases        string `json:"lease_table"`
	WorkerMetrics string `json:"worker_metrics_table"`
	Coordinator   string `json:"coordinator_table"`
}

// Kinds of evidence.
const (
	// KindLeaderLock: the Java KCL's leader lock item changed its
	// recordVersionNumber (its holder heartbeats it).
	KindLeaderLock = "leader-lock"
	// KindWorkerMetrics: a Java KCL worker-metrics row was updated during
	// the window, or within the last FreshRowAge before it.
	KindWorkerMetrics = "worker-metrics"
	// KindLeaseRenewal: a lease owned by a worker that is not a Shardwise
	// worker had its leaseCounter move (the Java KCL renews every lease
	// it holds every failover/3).
	KindLeaseRenewal = "lease-renewal"
)

// FreshRowAge is how recently a Java worker-metrics row must have been
// updated (lut, by the writer's clock) to count as a live worker: the
// Java KCL's leader ignores rows older than this.
const FreshRowAge = 60 * time.Second

// watchRowAge bounds the rows worth watching for a change: a Java worker
// writes its row every 30 s, so one older than this is long gone.
const watchRowAge = 5 * time.Minute

// Evidence is one sign that a Java KCL worker is running.
type Evidence struct {
	Kind   string `json:"kind"`            // one of the Kind constants
	Table  string `json:"table"`           // where it was seen
	Key    string `json:"key"`             // the item's key
	Worker string `json:"worker"`          // the Java worker id concerned
	From   string `json:"from,omitempty"`  // value first read (recordVersionNumber, lut, leaseCounter)
	To     string `json:"to,omitempty"`    // value read last; empty for a fresh row not seen changing
	Detail string `json:"detail"`          // one line for people
	Age    string `json:"age,omitempty"`   // for a row: how long ago it was updated, by its lut
	Owner  string `json:"owner,omitempty"` // for a lease: its owner when read last
}

// Found is what the tables hold of the Java KCL, live or not.
type Found struct {
	// LeaderLock is the Java lock item's owner ("" if there is none);
	// LeaderLockTable is where it was found.
	LeaderLock      string `json:"leader_lock_owner,omitempty"`
	LeaderLockTable string `json:"leader_lock_table,omitempty"`
	// JavaWorkerRows counts worker-metrics rows not in Shardwise's format
	// (in the worker-metrics table, or WORKER_METRIC_STATS items in the
	// lease table).
	JavaWorkerRows int `json:"java_worker_rows"`
	// ShardwiseWorkers counts Shardwise worker records.
	ShardwiseWorkers int `json:"shardwise_workers"`
	// Leases counts lease items; ForeignOwnedLeases those owned by a
	// worker with no Shardwise worker record.
	Leases             int `json:"leases"`
	ForeignOwnedLeases int `json:"foreign_owned_leases"`
	// UnreadableLeases counts lease items Shardwise would skip (an
	// attribute of an unexpected type).
	UnreadableLeases int `json:"unreadable_leases"`
	// MultiStream is true when lease items carry the Java KCL's
	// multi-stream attributes (streamName, shardId).
	MultiStream bool `json:"multi_stream"`
	// OtherItems lists the other Java entities seen (migration state,
	// stream info), by table and key.
	OtherItems []string `json:"other_items,omitempty"`
}

// Report is what Detect saw.
type Report struct {
	Tables Tables `json:"tables"`
	// WindowSeconds is how long the tables were watched; 0 when nothing
	// of a Java fleet was found that could still be running.
	WindowSeconds float64 `json:"window_seconds"`
	// Live is true when any evidence of a running Java worker was seen.
	Live     bool       `json:"live"`
	Evidence []Evidence `json:"evidence"`
	Found    Found      `json:"found"`
}

// JSON renders r for scripts.
func (r Report) JSON() ([]byte, error) {
	if r.Evidence == nil {
		r.Evidence = []Evidence{}
	}
	return json.MarshalIndent(r, "", "  ")
}

// String renders r for people: the verdict, each piece of evidence, then
// what else was found.
func (r Report) String() string {
	var b strings.Builder
	switch {
	case r.Live:
		fmt.Fprintf(&b, "Java KCL fleet: LIVE (watched the tables for %s)\n", secs(r.WindowSeconds))
	case r.WindowSeconds > 0:
		fmt.Fprintf(&b, "Java KCL fleet: none running (watched the tables for %s, nothing moved)\n", secs(r.WindowSeconds))
	default:
		b.WriteString("Java KCL fleet: none running (nothing a running Java worker would keep fresh)\n")
	}
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "  %s\n", e.Detail)
	}
	f := r.Found
	lock := "none"
	if f.LeaderLock != "" {
		lock = fmt.Sprintf("owned by %s (table %s)", f.LeaderLock, f.LeaderLockTable)
	}
	mode := "single-stream"
	if f.MultiStream {
		mode = "multi-stream"
	}
	fmt.Fprintf(&b, "Found: %d leases (%s), %d owned by non-Shardwise workers, %d unreadable; %d Java worker rows; %d Shardwise workers; Java leader lock %s",
		f.Leases, mode, f.ForeignOwnedLeases, f.UnreadableLeases, f.JavaWorkerRows, f.ShardwiseWorkers, lock)
	if len(f.OtherItems) > 0 {
		fmt.Fprintf(&b, "; other Java items: %s", strings.Join(f.OtherItems, ", "))
	}
	b.WriteString("\n")
	return b.String()
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

// snapshot is one reading of what Detect watches.
type snapshot struct {
	locks  map[string]lockItem   // table/key -> lock
	rows   map[string]javaRow    // table/key -> Java worker row
	leases map[string]leaseState // lease key -> owner and counter
	found  Found
	sw     map[string]bool // Shardwise worker ids

	leaseTable string
}

type lockItem struct {
	table, key, owner, rvn string
	released               bool
}

type javaRow struct {
	table, key string
	lut        int64 // epoch seconds; 0 if absent
}

type leaseState struct {
	owner   string
	counter string
}

// Detect reads the tables and, if they hold anything a running Java KCL
// worker would keep changing (leases owned by workers that have no
// Shardwise record, or Java worker-metrics rows updated in the last few
// minutes), watches them for window, reading again about every second.
// The report is Live if a lock's recordVersionNumber changed, a Java
// worker-metrics row was updated within FreshRowAge or during the window,
// or a lease owned by a non-Shardwise worker had its counter move.
//
// It writes nothing. A table that does not exist is skipped; other read
// errors are returned.
func Detect(ctx context.Context, client DynamoDB, tables Tables, window time.Duration) (Report, error) {
	return detect(ctx, client, tables, window, time.Now)
}

func detect(ctx context.Context, client DynamoDB, tables Tables, window time.Duration, now func() time.Time) (Report, error) {
	rep := Report{Tables: tables}
	first, err := read(ctx, client, tables)
	if err != nil {
		return rep, err
	}
	rep.Found = first.found
	seen := map[string]bool{} // evidence already reported, by kind/table/key
	add := func(e Evidence) {
		id := e.Kind + "/" + e.Table + "/" + e.Key
		if !seen[id] {
			seen[id] = true
			rep.Evidence = append(rep.Evidence, e)
		}
	}
	start := now()
	watch := false
	for _, k := range sortedKeys(first.rows) {
		row := first.rows[k]
		age := start.Sub(time.Unix(row.lut, 0))
		if row.lut > 0 && age <= FreshRowAge {
			add(Evidence{Kind: KindWorkerMetrics, Table: row.table, Key: row.key, Worker: row.key, From: strconv.FormatInt(row.lut, 10),
				Age: age.Round(time.Second).String(),
				Detail: fmt.Sprintf("Java worker-metrics row %q in table %s was updated %s ago (lut %d; the Java KCL's leader counts a row as live for %s)",
					row.key, row.table, age.Round(time.Second), row.lut, FreshRowAge)})
		}
		if row.lut > 0 && age <= watchRowAge {
			watch = true
		}
	}
	for _, l := range first.leases {
		if l.owner != "" && !first.sw[l.owner] {
			watch = true
		}
	}
	if watch && window > 0 {
		poll := min(max(window/8, 100*time.Millisecond), time.Second)
		deadline := start.Add(window)
		t := time.NewTimer(min(poll, window))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-t.C:
			}
			cur, err := read(ctx, client, tables)
			if err != nil {
				return rep, err
			}
			compare(first, cur, add)
			left := deadline.Sub(now())
			if left <= 0 {
				break
			}
			t.Reset(min(poll, left))
		}
		rep.WindowSeconds = now().Sub(start).Seconds()
	}
	rep.Live = len(rep.Evidence) > 0
	return rep, nil
}

// compare adds the evidence of change between two readings.
func compare(first, cur snapshot, add func(Evidence)) {
	for _, k := range sortedKeys(first.locks) {
		a, b := first.locks[k], cur.locks[k]
		if b.rvn != "" && a.rvn != b.rvn && !b.released {
			add(Evidence{Kind: KindLeaderLock, Table: a.table, Key: a.key, Worker: b.owner, From: a.rvn, To: b.rvn,
				Detail: fmt.Sprintf("Java leader lock %q in table %s, held by %s, changed its recordVersionNumber (%s -> %s): its holder is heartbeating it",
					a.key, a.table, b.owner, a.rvn, b.rvn)})
		}
	}
	for _, k := range sortedKeys(first.rows) {
		a, b := first.rows[k], cur.rows[k]
		if b.lut > a.lut {
			add(Evidence{Kind: KindWorkerMetrics, Table: a.table, Key: a.key, Worker: a.key, From: strconv.FormatInt(a.lut, 10), To: strconv.FormatInt(b.lut, 10),
				Detail: fmt.Sprintf("Java worker-metrics row %q in table %s was updated while watched (lut %d -> %d)", a.key, a.table, a.lut, b.lut)})
		}
	}
	for _, k := range sortedKeys(first.leases) {
		a, b := first.leases[k], cur.leases[k]
		if b.counter == "" || a.counter == b.counter || b.owner == "" || cur.sw[b.owner] {
			continue
		}
		add(Evidence{Kind: KindLeaseRenewal, Table: cur.leaseTable, Key: k, Worker: b.owner, From: a.counter, To: b.counter, Owner: b.owner,
			Detail: fmt.Sprintf("lease %s in table %s, owned by %s (no Shardwise worker record), had its leaseCounter move (%s -> %s): a Java worker renews it", k, cur.leaseTable, b.owner, a.counter, b.counter)})
	}
}

// read takes one reading of the three tables.
func read(ctx context.Context, client DynamoDB, t Tables) (snapshot, error) {
	s := snapshot{locks: map[string]lockItem{}, rows: map[string]javaRow{}, leases: map[string]leaseState{}, sw: map[string]bool{}, leaseTable: t.Leases}
	if t.Coordinator != "" {
		err := scanAll(ctx, client, t.Coordinator, func(item map[string]types.AttributeValue) {
			switch k := str(item, kclschema.AttrCoordKey); k {
			case kclschema.CoordLegacyLeaderKey:
				s.noteLock(t.Coordinator, k, item)
			case kclschema.CoordLeaderKey:
			default:
				s.found.OtherItems = append(s.found.OtherItems, t.Coordinator+"/"+k)
			}
		})
		if err != nil {
			return s, err
		}
	}
	if t.WorkerMetrics != "" {
		err := scanAll(ctx, client, t.WorkerMetrics, func(item map[string]types.AttributeValue) {
			id := str(item, kclschema.AttrWorkerID)
			if _, ok := item[kclschema.AttrSessionID].(*types.AttributeValueMemberS); ok {
				if _, ok := item[kclschema.AttrHeartbeat].(*types.AttributeValueMemberN); ok {
					s.sw[id] = true
					s.found.ShardwiseWorkers++
					return
				}
			}
			s.found.JavaWorkerRows++
			s.rows[t.WorkerMetrics+"/"+id] = javaRow{table: t.WorkerMetrics, key: id, lut: num(item, kclschema.AttrLastUpdate)}
		})
		if err != nil {
			return s, err
		}
	}
	if t.Leases != "" {
		err := scanAll(ctx, client, t.Leases, func(item map[string]types.AttributeValue) {
			key := str(item, kclschema.AttrLeaseKey)
			switch et := str(item, kclschema.AttrEntityType); et {
			case "", kclschema.EntityTypeLease:
			case kclschema.EntityTypeLeader:
				s.noteLock(t.Leases, key, item)
				return
			case kclschema.EntityTypeWorkerMetrics:
				s.found.JavaWorkerRows++
				s.rows[t.Leases+"/"+key] = javaRow{table: t.Leases, key: key, lut: num(item, kclschema.AttrLastUpdate)}
				return
			default:
				s.found.OtherItems = append(s.found.OtherItems, t.Leases+"/"+key+" ("+et+")")
				return
			}
			s.found.Leases++
			if _, ok := item["streamName"]; ok {
				s.found.MultiStream = true
			}
			if ddbstore.CheckLeaseItem(item) != nil {
				s.found.UnreadableLeases++
			}
			var counter string
			if n, ok := item[kclschema.AttrLeaseCounter].(*types.AttributeValueMemberN); ok {
				counter = n.Value
			}
			s.leases[key] = leaseState{owner: str(item, kclschema.AttrLeaseOwner), counter: counter}
		})
		if err != nil {
			return s, err
		}
	}
	for _, l := range s.leases {
		if l.owner != "" && !s.sw[l.owner] {
			s.found.ForeignOwnedLeases++
		}
	}
	slices.Sort(s.found.OtherItems)
	return s, nil
}

// noteLock records a Java lock item (one with the lock client's
// attributes); Shardwise's own leader items are not locks.
func (s *snapshot) noteLock(table, key string, item map[string]types.AttributeValue) {
	rvn, ok := item[kclschema.AttrLockRecordVersion].(*types.AttributeValueMemberS)
	if !ok {
		return
	}
	l := lockItem{table: table, key: key, owner: str(item, kclschema.AttrLockOwnerName), rvn: rvn.Value}
	if b, ok := item[kclschema.AttrLockIsReleased].(*types.AttributeValueMemberBOOL); ok {
		l.released = b.Value
	}
	s.locks[table+"/"+key] = l
	if s.found.LeaderLock == "" && !l.released {
		s.found.LeaderLock, s.found.LeaderLockTable = l.owner, table
	}
}

func scanAll(ctx context.Context, client DynamoDB, table string, f func(map[string]types.AttributeValue)) error {
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		page, err := client.Scan(ctx, in)
		if awsapi.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("shardwise: scanning table %q: %w", table, err)
		}
		for _, item := range page.Items {
			f(item)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// num reads an integral N (lut is epoch seconds; some writers may use a
// decimal form), 0 when absent or not a number.
func num(item map[string]types.AttributeValue, name string) int64 {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
	if err != nil {
		return 0
	}
	return int64(f)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
