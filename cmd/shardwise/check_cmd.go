package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/javafleet"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// checkReport is what `shardwise check` found; -json prints it as is.
type checkReport struct {
	LeaseTable string `json:"lease_table"`
	// Origin sums up who wrote the tables: "empty", "Shardwise",
	// "Java KCL", "Shardwise and Java KCL", or "unknown".
	Origin string     `json:"origin"`
	Leases leaseCount `json:"leases"`
	// Owners are the lease owners, each with whether a Shardwise worker
	// row of that id exists.
	Owners []ownerFinding `json:"owners"`
	// Entities are the items of other KCL entity types in the lease
	// table (Java KCL 3.5's single-table mode).
	Entities []otherItem `json:"other_entities"`
	// OddItems are lease items with attributes of unexpected types.
	OddItems    []oddLease      `json:"odd_items"`
	Workers     tableFinding    `json:"workers_table"`
	Coordinator tableFinding    `json:"coordinator_table"`
	JavaFleet   *javaFleetCheck `json:"live_java_fleet"`
	Notes       []string        `json:"notes"`
}

type leaseCount struct {
	Total        int      `json:"total"`
	SingleStream int      `json:"single_stream"`
	MultiStream  int      `json:"multi_stream"`
	Streams      []string `json:"streams,omitempty"` // multi-stream identifiers
	Owned        int      `json:"owned"`
	Finished     int      `json:"finished"`
	Handoffs     int      `json:"handoffs_pending"`
}

type ownerFinding struct {
	ID        string `json:"id"`
	Leases    int    `json:"leases"`
	Shardwise bool   `json:"shardwise_worker"`
}

// oddLease is a lease item with attributes of unexpected types. Read is
// whether Shardwise reads it as a lease all the same.
type oddLease struct {
	Key      string   `json:"lease_key"`
	Problems []string `json:"problems"`
	Read     bool     `json:"read_as_lease"`
}

// tableFinding describes one of the coordination tables.
type tableFinding struct {
	Name   string   `json:"name"`
	Exists bool     `json:"exists"`
	Items  []string `json:"items"` // one line per item: what it is
	// Shardwise and Java count the items each wrote.
	Shardwise int `json:"shardwise_items"`
	Java      int `json:"java_items"`
	Other     int `json:"other_items"`
}

// javaFleetCheck is the live-Java-fleet detection's verdict
// (internal/javafleet, the check a starting worker runs): what moved
// while the tables were watched.
type javaFleetCheck struct {
	Live bool `json:"live"`
	// WindowSeconds is how long the tables were watched; 0 when nothing
	// a running Java worker keeps changing was found to watch.
	WindowSeconds float64              `json:"window_seconds"`
	Evidence      []javafleet.Evidence `json:"evidence"`
	// LeaderLock is the owner of the Java KCL's leader lock, if any.
	LeaderLock string `json:"leader_lock_owner,omitempty"`
	Advice     string `json:"advice,omitempty"`
}

// errLiveJavaFleet is check's exit status when a live Java fleet is
// found: the report is printed in full, then the command exits 1, so a
// migration script can run `shardwise check -table T && start-shardwise`.
var errLiveJavaFleet = errors.New("shardwise: a live Java KCL fleet is running on these tables (see the report); stop every Java worker before starting Shardwise")

// defaultObserve is how long check watches the tables for a live Java
// fleet: the scheduler's default JavaFleetCheckWindow.
const defaultObserve = 12 * time.Second

// checkJavaFleet watches the tables for window with the detection a
// starting worker runs, and sums up what it saw.
func checkJavaFleet(ctx context.Context, client *dynamodb.Client, t *target, window time.Duration) (*javaFleetCheck, error) {
	rep, err := javafleet.Detect(ctx, client, javafleet.Tables{Leases: t.table, WorkerMetrics: t.workersTable, Coordinator: t.coordTable}, window)
	if err != nil {
		return nil, err
	}
	j := &javaFleetCheck{Live: rep.Live, WindowSeconds: rep.WindowSeconds, Evidence: rep.Evidence, LeaderLock: rep.Found.LeaderLock}
	if j.Evidence == nil {
		j.Evidence = []javafleet.Evidence{}
	}
	if j.Live {
		j.Advice = fmt.Sprintf("Stop every Java KCL worker of the application, wait a minute (a stopped Java worker's metrics row stays fresh for %v) and run check again; a Shardwise worker refuses to start meanwhile unless Config.AllowLiveJavaFleet is set.", javafleet.FreshRowAge)
	}
	return j, nil
}

// leaseAttrTypes are the DynamoDB types the Java KCL writes each lease
// attribute as (KCL-REFERENCE.md), including the two a multi-stream lease
// adds. alsoJava lists the other type the Java KCL is known to write.
var leaseAttrTypes = map[string]struct{ want, alsoJava string }{
	kclschema.AttrLeaseKey:                           {"S", ""},
	kclschema.AttrLeaseOwner:                         {"S", ""},
	kclschema.AttrLeaseCounter:                       {"N", ""},
	kclschema.AttrCheckpoint:                         {"S", ""},
	kclschema.AttrCheckpointSubSequenceNumber:        {"N", ""},
	kclschema.AttrPendingCheckpoint:                  {"S", ""},
	kclschema.AttrPendingCheckpointSubSequenceNumber: {"N", ""},
	kclschema.AttrPendingCheckpointState:             {"B", "N"}, // the Java serializer's create path writes N
	kclschema.AttrOwnerSwitchesSinceCheckpoint:       {"N", ""},
	kclschema.AttrParentShardID:                      {"SS", ""},
	kclschema.AttrChildShardIDs:                      {"SS", ""},
	kclschema.AttrStartingHashKey:                    {"S", ""},
	kclschema.AttrEndingHashKey:                      {"S", ""},
	kclschema.AttrThroughputKBps:                     {"N", ""},
	kclschema.AttrCheckpointOwner:                    {"S", ""},
	kclschema.AttrEntityType:                         {"S", ""},
	"streamName":                                     {"S", ""}, // multi-stream: the stream identifier
	"shardId":                                        {"S", ""}, // multi-stream: the bare shard id
}

// avType names an attribute value's DynamoDB type.
func avType(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	}
	return fmt.Sprintf("%T", av)
}

// attrProblems lists a lease item's attributes of unexpected types.
func attrProblems(item map[string]types.AttributeValue) []string {
	var out []string
	for name, av := range item {
		want, ok := leaseAttrTypes[name]
		if !ok {
			continue
		}
		got := avType(av)
		switch got {
		case want.want, "NULL":
			continue
		case want.alsoJava:
			out = append(out, fmt.Sprintf("%s is %s, want %s (the Java KCL writes both)", name, got, want.want))
			continue
		}
		out = append(out, fmt.Sprintf("%s is %s, want %s", name, got, want.want))
	}
	sort.Strings(out)
	return out
}

// runCheck is `shardwise check`: what a lease table and its coordination
// tables hold, before a migration; read-only.
func runCheck(ctx context.Context, env *cmdEnv, args []string) error {
	var t target
	fs := newFlags(env, "check", "-table TABLE [-observe 12s] [-json]")
	t.register(fs)
	observe := fs.Duration("observe", defaultObserve, "how long to watch the tables for a live Java KCL fleet (its leader lock's recordVersionNumber, its worker-metrics rows' update times, its leases' counters moving); the default is the scheduler's JavaFleetCheckWindow. 0 watches nothing (a worker-metrics row updated in the last minute still counts). A live fleet makes check exit 1 after the report")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := t.resolve(); err != nil {
		return err
	}
	if *observe < 0 {
		return usagef("-observe %v is negative", *observe)
	}
	client, err := t.client(ctx)
	if err != nil {
		return err
	}
	rep, err := check(ctx, client, &t, *observe)
	if err != nil {
		return err
	}
	if t.json {
		err = writeJSON(env.stdout, rep)
	} else {
		err = printCheck(env.stdout, rep)
	}
	if err == nil && rep.JavaFleet.Live {
		err = errLiveJavaFleet
	}
	return err
}

func check(ctx context.Context, client *dynamodb.Client, t *target, observe time.Duration) (*checkReport, error) {
	rep := &checkReport{LeaseTable: t.table, Owners: []ownerFinding{}, Entities: []otherItem{}, OddItems: []oddLease{}, Notes: []string{}}
	items, err := scanAll(ctx, client, t.table)
	if err != nil {
		return nil, err
	}
	streams := map[string]bool{}
	owners := map[string]int{}
	for _, item := range items {
		key := str(item, kclschema.AttrLeaseKey)
		if !ddbstore.IsLeaseItem(item) {
			rep.Entities = append(rep.Entities, otherItem{Key: key, EntityType: str(item, kclschema.AttrEntityType)})
			continue
		}
		rep.Leases.Total++
		id, _ := splitLeaseKey(key)
		if id != "" || str(item, "streamName") != "" {
			rep.Leases.MultiStream++
			if id != "" {
				streams[id] = true
			} else {
				streams[str(item, "streamName")] = true
			}
		} else {
			rep.Leases.SingleStream++
		}
		problems := attrProblems(item)
		l, derr := ddbstore.DecodeLeaseItem(item)
		if derr != nil || len(problems) > 0 {
			odd := oddLease{Key: key, Problems: problems, Read: derr == nil}
			if derr != nil && len(problems) == 0 {
				odd.Problems = []string{derr.Error()}
			}
			rep.OddItems = append(rep.OddItems, odd)
		}
		if derr != nil {
			continue
		}
		switch {
		case l.IsFinished():
			rep.Leases.Finished++
		case l.Owner != "":
			rep.Leases.Owned++
			owners[l.Owner]++
		}
		if l.HandoffPending() {
			rep.Leases.Handoffs++
		}
	}
	for s := range streams {
		rep.Leases.Streams = append(rep.Leases.Streams, s)
	}
	sort.Strings(rep.Leases.Streams)
	sort.Slice(rep.Entities, func(i, j int) bool { return rep.Entities[i].Key < rep.Entities[j].Key })
	sort.Slice(rep.OddItems, func(i, j int) bool { return rep.OddItems[i].Key < rep.OddItems[j].Key })

	shardwiseWorkers := map[string]bool{}
	rep.Workers, err = checkWorkersTable(ctx, client, t.workersTable, shardwiseWorkers)
	if err != nil {
		return nil, err
	}
	rep.Coordinator, err = checkCoordinatorTable(ctx, client, t.coordTable)
	if err != nil {
		return nil, err
	}
	for id, n := range owners {
		rep.Owners = append(rep.Owners, ownerFinding{ID: id, Leases: n, Shardwise: shardwiseWorkers[id]})
	}
	sort.Slice(rep.Owners, func(i, j int) bool { return rep.Owners[i].ID < rep.Owners[j].ID })

	if rep.JavaFleet, err = checkJavaFleet(ctx, client, t, observe); err != nil {
		return nil, err
	}
	rep.Origin, rep.Notes = verdict(rep)
	return rep, nil
}

// Kinds of worker-metrics rows.
const (
	rowShardwise = "shardwise" // Shardwise's own format: a session and a heartbeat
	rowJava      = "java"      // the Java KCL's: lut (and sts, opr), no session
	rowOther     = "other"
)

// workerTableRow is one row of the worker-metrics table, classified.
type workerTableRow struct {
	ID   string
	Kind string // one of the row kinds
	Item map[string]types.AttributeValue
}

// readWorkerTable reads the worker-metrics table row by row and tells
// Shardwise's rows from the Java KCL's (WorkerStore.List returns only
// Shardwise's; check and workers show the others too). exists is false
// when the table does not exist.
func readWorkerTable(ctx context.Context, client awsapi.DynamoDB, table string) (rows []workerTableRow, exists bool, err error) {
	items, err := scanAll(ctx, client, table)
	if errors.Is(err, errNoTable) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, item := range items {
		r := workerTableRow{ID: str(item, kclschema.AttrWorkerID), Kind: rowOther, Item: item}
		_, hasSession := item[kclschema.AttrSessionID].(*types.AttributeValueMemberS)
		_, hasHB := item[kclschema.AttrHeartbeat].(*types.AttributeValueMemberN)
		_, hasLUT := item[kclschema.AttrLastUpdate]
		switch {
		case hasSession && hasHB:
			r.Kind = rowShardwise
		case hasLUT:
			r.Kind = rowJava
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, true, nil
}

// checkWorkersTable classifies the worker-metrics table's rows: a row
// with Shardwise's session and heartbeat attributes is Shardwise's; a row
// with the Java KCL's attributes (lut, sts) and no session is Java's.
func checkWorkersTable(ctx context.Context, client *dynamodb.Client, table string, shardwise map[string]bool) (tableFinding, error) {
	f := tableFinding{Name: table, Items: []string{}}
	rows, exists, err := readWorkerTable(ctx, client, table)
	if err != nil || !exists {
		return f, err
	}
	f.Exists = true
	for _, r := range rows {
		switch r.Kind {
		case rowShardwise:
			f.Shardwise++
			shardwise[r.ID] = true
			f.Items = append(f.Items, fmt.Sprintf("%s: Shardwise worker (session %s)", r.ID, str(r.Item, kclschema.AttrSessionID)))
		case rowJava:
			f.Java++
			f.Items = append(f.Items, fmt.Sprintf("%s: Java KCL worker metrics (%s %s)", r.ID, kclschema.AttrLastUpdate, epochText(r.Item[kclschema.AttrLastUpdate])))
		default:
			f.Other++
			f.Items = append(f.Items, fmt.Sprintf("%s: unknown row (attributes %s)", dash(r.ID), attrNames(r.Item)))
		}
	}
	sort.Strings(f.Items)
	return f, nil
}

// checkCoordinatorTable classifies the coordinator-state table's items:
// Java's lock-client leader (ownerName, leaseDuration,
// recordVersionNumber), Java's migration state, Shardwise's leader item.
func checkCoordinatorTable(ctx context.Context, client *dynamodb.Client, table string) (tableFinding, error) {
	f := tableFinding{Name: table, Items: []string{}}
	items, err := scanAll(ctx, client, table)
	if errors.Is(err, errNoTable) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	f.Exists = true
	for _, item := range items {
		key := str(item, kclschema.AttrCoordKey)
		_, rvn := item[kclschema.AttrLockRecordVersion]
		_, epoch := item[kclschema.AttrCoordEpoch]
		switch {
		case rvn || str(item, kclschema.AttrLockOwnerName) != "":
			f.Java++
			f.Items = append(f.Items, fmt.Sprintf("%s: Java KCL leader lock (%s %s, %s %s, %s %s)", key,
				kclschema.AttrLockOwnerName, dash(str(item, kclschema.AttrLockOwnerName)), kclschema.AttrLockRecordVersion, dash(str(item, kclschema.AttrLockRecordVersion)),
				kclschema.AttrLockLeaseDuration, dash(numText(item[kclschema.AttrLockLeaseDuration]))))
		case key == kclschema.CoordJavaMigrationKey:
			f.Java++
			f.Items = append(f.Items, fmt.Sprintf("%s: Java KCL 2.x-to-3.x migration state", key))
		case epoch:
			f.Shardwise++
			f.Items = append(f.Items, fmt.Sprintf("%s: Shardwise leader item (leader %s, epoch %s)", key, dash(str(item, kclschema.AttrCoordLeader)), numText(item[kclschema.AttrCoordEpoch])))
		default:
			f.Other++
			f.Items = append(f.Items, fmt.Sprintf("%s: unknown item (attributes %s)", dash(key), attrNames(item)))
		}
	}
	sort.Strings(f.Items)
	return f, nil
}

// verdict sums up the findings and says what they mean for a migration.
func verdict(rep *checkReport) (string, []string) {
	java := rep.Workers.Java + rep.Coordinator.Java + len(rep.Entities)
	shardwise := rep.Workers.Shardwise + rep.Coordinator.Shardwise
	var notes []string
	foreignOwners := 0
	for _, o := range rep.Owners {
		if !o.Shardwise {
			foreignOwners++
		}
	}
	if foreignOwners > 0 {
		java++ // leases owned by ids with no Shardwise row: Java workers, most likely
		notes = append(notes, fmt.Sprintf("%d lease owner(s) have no Shardwise worker row: Java KCL workers (or workers long gone). Stop every Java worker before starting Shardwise; Shardwise takes leases of owners it does not see heartbeating.", foreignOwners))
	}
	if rep.Leases.MultiStream > 0 {
		notes = append(notes, fmt.Sprintf("%d multi-stream lease(s) (keys account:stream:epoch:shardId) of %d stream(s): a Java multi-stream application.", rep.Leases.MultiStream, len(rep.Leases.Streams)))
	}
	if len(rep.Entities) > 0 {
		notes = append(notes, fmt.Sprintf("%d item(s) of other KCL entity types (Java KCL 3.5 single-table mode): Shardwise skips them and never rewrites them.", len(rep.Entities)))
	}
	if rep.Workers.Java > 0 || rep.Coordinator.Java > 0 {
		notes = append(notes, "Java KCL coordination items found (worker metrics, leader lock or migration state): leave them in place for a rollback.")
	}
	for _, o := range rep.OddItems {
		if !o.Read {
			notes = append(notes, fmt.Sprintf("lease %s has attributes of unexpected types and is not read as a lease: fix or delete it (see odd items).", dash(o.Key)))
		}
	}
	switch {
	case rep.JavaFleet.Live:
		notes = append(notes, "LIVE Java KCL workers: stop them before starting Shardwise. "+rep.JavaFleet.Advice)
	}
	origin := "unknown"
	switch {
	case rep.Leases.Total == 0 && java == 0 && shardwise == 0:
		origin = "empty"
	case java > 0 && shardwise > 0:
		origin = "Shardwise and Java KCL"
	case java > 0:
		origin = "Java KCL"
	case shardwise > 0:
		origin = "Shardwise"
	}
	return origin, notes
}

func printCheck(w io.Writer, rep *checkReport) error {
	fmt.Fprintf(w, "Lease table %s: written by %s\n", rep.LeaseTable, rep.Origin)
	l := rep.Leases
	fmt.Fprintf(w, "  leases: %d (single-stream %d, multi-stream %d), owned %d, finished %d, hand-offs pending %d\n",
		l.Total, l.SingleStream, l.MultiStream, l.Owned, l.Finished, l.Handoffs)
	for _, s := range l.Streams {
		fmt.Fprintf(w, "  stream: %s\n", s)
	}
	for _, o := range rep.Owners {
		kind := "no Shardwise worker row (Java worker?)"
		if o.Shardwise {
			kind = "Shardwise worker"
		}
		fmt.Fprintf(w, "  owner %s: %d lease(s), %s\n", o.ID, o.Leases, kind)
	}
	fmt.Fprintf(w, "  other KCL entities: %d\n", len(rep.Entities))
	for _, e := range rep.Entities {
		fmt.Fprintf(w, "    %s: %s\n", e.Key, e.EntityType)
	}
	fmt.Fprintf(w, "  odd items: %d\n", len(rep.OddItems))
	for _, o := range rep.OddItems {
		read := "not read as a lease"
		if o.Read {
			read = "read as a lease"
		}
		fmt.Fprintf(w, "    %s (%s): %s\n", dash(o.Key), read, strings.Join(o.Problems, "; "))
	}
	for _, tf := range []struct {
		what string
		f    tableFinding
	}{{"Worker-metrics table", rep.Workers}, {"Coordinator-state table", rep.Coordinator}} {
		if !tf.f.Exists {
			fmt.Fprintf(w, "%s %s: does not exist\n", tf.what, tf.f.Name)
			continue
		}
		fmt.Fprintf(w, "%s %s: %d item(s): Shardwise %d, Java KCL %d, other %d\n", tf.what, tf.f.Name, len(tf.f.Items), tf.f.Shardwise, tf.f.Java, tf.f.Other)
		for _, it := range tf.f.Items {
			fmt.Fprintf(w, "  %s\n", it)
		}
	}
	switch j := rep.JavaFleet; {
	case j.Live:
		fmt.Fprintf(w, "Live Java fleet: LIVE (watched the tables for %s)\n", watched(j.WindowSeconds))
	case j.WindowSeconds > 0:
		fmt.Fprintf(w, "Live Java fleet: none (watched the tables for %s: no Java lock, worker row or lease counter moved)\n", watched(j.WindowSeconds))
	default:
		fmt.Fprintln(w, "Live Java fleet: none (nothing a running Java worker keeps changing: no foreign-owned lease, no recent Java worker row)")
	}
	for _, e := range rep.JavaFleet.Evidence {
		fmt.Fprintf(w, "  %s\n", e.Detail)
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "Notes:")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	return nil
}

// watched prints how long the tables were watched, to a tenth of a
// second.
func watched(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(100 * time.Millisecond).String()
}

func attrNames(item map[string]types.AttributeValue) string {
	names := make([]string, 0, len(item))
	for n := range item {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func numText(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberS:
		return v.Value
	}
	return ""
}

// epochText prints an epoch-seconds attribute as a UTC time.
func epochText(av types.AttributeValue) string {
	n := numText(av)
	var sec int64
	if _, err := fmt.Sscan(n, &sec); err != nil {
		return dash(n)
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}
