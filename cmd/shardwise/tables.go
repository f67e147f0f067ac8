package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// tables reads an application's three tables. Only reads are issued.
type tables struct {
	client       awsapi.DynamoDB
	leaseTable   string
	workersTable string
	workers      *ddbstore.DynamoWorkerStore
	coordTable   string
	coordinator  *ddbstore.DynamoCoordinatorStore
}

func openTables(client awsapi.DynamoDB, t *target) (tables, error) {
	tb := tables{client: client, leaseTable: t.table, workersTable: t.workersTable, coordTable: t.coordTable}
	var err error
	if tb.workers, err = ddbstore.NewDynamoWorkerStore(client, t.workersTable, time.Minute); err != nil {
		return tb, err
	}
	tb.coordinator, err = ddbstore.NewDynamoCoordinatorStore(client, t.coordTable, time.Minute)
	return tb, err
}

// oddItem is a lease-table item that is not read as a lease: a lease
// item with an attribute of an unexpected type, or one without a key.
type oddItem struct {
	Key    string `json:"lease_key"`
	Reason string `json:"reason"`
}

// otherItem is an item of another KCL entity type (KCL 3.5 keeps worker
// metrics, the leader and migration state in the lease table too).
type otherItem struct {
	Key        string `json:"lease_key"`
	EntityType string `json:"entity_type"`
}

// leaseScan is one scan of the lease table, item by item: one odd item is
// listed rather than failing the listing.
type leaseScan struct {
	leases []leases.Lease // sorted by key
	others []otherItem
	odd    []oddItem
	raw    map[string]map[string]types.AttributeValue // lease items by key
}

func readLeaseTable(ctx context.Context, client awsapi.DynamoDB, table string) (leaseScan, error) {
	items, err := scanAll(ctx, client, table)
	if err != nil {
		return leaseScan{}, err
	}
	return classifyLeaseItems(items), nil
}

func classifyLeaseItems(items []map[string]types.AttributeValue) leaseScan {
	s := leaseScan{raw: map[string]map[string]types.AttributeValue{}}
	for _, item := range items {
		key := str(item, kclschema.AttrLeaseKey)
		if !ddbstore.IsLeaseItem(item) {
			et := str(item, kclschema.AttrEntityType)
			if et == "" {
				et = "(entityType of an unexpected type)"
			}
			s.others = append(s.others, otherItem{Key: key, EntityType: et})
			continue
		}
		l, err := ddbstore.DecodeLeaseItem(item)
		if err != nil {
			s.odd = append(s.odd, oddItem{Key: key, Reason: strings.ReplaceAll(err.Error(), "shardwise: ", "")})
			continue
		}
		s.leases = append(s.leases, l)
		s.raw[l.Key] = item
	}
	sort.Slice(s.leases, func(i, j int) bool { return s.leases[i].Key < s.leases[j].Key })
	sort.Slice(s.others, func(i, j int) bool { return s.others[i].Key < s.others[j].Key })
	sort.Slice(s.odd, func(i, j int) bool { return s.odd[i].Key < s.odd[j].Key })
	return s
}

// reading is one read of the three tables. Errors are kept, not returned:
// a watch goes on through a failed read.
type reading struct {
	leases     []leases.Lease // sorted by key
	odd        []oddItem
	leaseErr   error
	workers    []leases.WorkerRecord // sorted by id
	workersErr error
	leader     string
}

func (t tables) read(ctx context.Context) reading {
	var r reading
	s, err := readLeaseTable(ctx, t.client, t.leaseTable)
	r.leases, r.odd, r.leaseErr = s.leases, s.odd, err
	r.workers, r.workersErr = t.workers.List(ctx)
	sort.Slice(r.workers, func(i, j int) bool { return r.workers[i].ID < r.workers[j].ID })
	r.leader, _ = t.leader(ctx)
	return r
}

// leader names Shardwise's leader, from its own item (key
// ShardwiseLeader), "" if none. A missing table is no leader.
func (t tables) leader(ctx context.Context) (string, error) {
	rec, err := t.coordinator.GetLeader(ctx)
	if err != nil && !awsapi.IsNotFound(err) {
		return "", err
	}
	return rec.Leader, nil
}

// javaLeaderLock names the holder of the Java KCL's leader lock (the
// DynamoDB lock client's item under the key Leader, which Shardwise
// never writes), "" if there is none, it is released, or the table is
// missing.
func (t tables) javaLeaderLock(ctx context.Context) (string, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.coordTable),
		Key:            map[string]types.AttributeValue{kclschema.AttrCoordKey: &types.AttributeValueMemberS{Value: kclschema.CoordLegacyLeaderKey}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		if awsapi.IsNotFound(err) {
			return "", nil
		}
		return "", tableError(t.coordTable, "GetItem", err)
	}
	if _, ok := out.Item[kclschema.AttrLockRecordVersion]; !ok {
		return "", nil // not a lock item: Shardwise's leader item of before ShardwiseLeader
	}
	if b, ok := out.Item[kclschema.AttrLockIsReleased].(*types.AttributeValueMemberBOOL); ok && b.Value {
		return "", nil
	}
	return str(out.Item, kclschema.AttrLockOwnerName), nil
}

// lagByOwner maps worker id -> lease key -> lag in milliseconds, from the
// worker records (each heartbeat writes its leases' lag).
func lagByOwner(workers []leases.WorkerRecord) map[string]map[string]int64 {
	lag := map[string]map[string]int64{}
	for _, w := range workers {
		lag[w.ID] = w.LeaseLag
	}
	return lag
}

// leaseLag is a lease's lag from its owner's record (or, mid hand-off,
// the old owner's, which may still be the one reading it).
func leaseLag(lag map[string]map[string]int64, l leases.Lease) (int64, bool) {
	if l.IsFinished() {
		return 0, false
	}
	ms, ok := lag[l.Owner][l.Key]
	if !ok && l.CheckpointOwner != "" {
		ms, ok = lag[l.CheckpointOwner][l.Key]
	}
	return ms, ok
}

func leaseState(l leases.Lease) string {
	switch {
	case l.IsFinished():
		return "finished"
	case l.HandoffPending():
		return "hand-off from " + l.CheckpointOwner
	case l.Owner == "":
		return "unassigned"
	}
	return "assigned"
}

// openReadOnly is the start of the read-only table verbs (leases,
// workers): their flags parsed, the client built, the tables checked and
// the lease table read.
func openReadOnly(ctx context.Context, env *cmdEnv, verb string, args []string) (*target, *dynamodb.Client, tables, leaseScan, error) {
	t := &target{}
	fs := newFlags(env, verb, "-table TABLE [-json]")
	t.register(fs)
	if err := parse(fs, args); err != nil {
		return nil, nil, tables{}, leaseScan{}, err
	}
	if err := t.resolve(); err != nil {
		return nil, nil, tables{}, leaseScan{}, err
	}
	client, err := t.client(ctx)
	if err != nil {
		return nil, nil, tables{}, leaseScan{}, err
	}
	tb, err := openTables(client, t)
	if err != nil {
		return nil, nil, tables{}, leaseScan{}, err
	}
	scan, err := readLeaseTable(ctx, client, t.table)
	if err != nil {
		return nil, nil, tables{}, leaseScan{}, err
	}
	return t, client, tb, scan, nil
}
