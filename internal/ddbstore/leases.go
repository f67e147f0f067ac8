package ddbstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/leaseargs"
	"github.com/shardwise/shardwise/internal/lograte"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// DynamoConfig configures a DynamoStore.
type DynamoConfig struct {
	// Client is the DynamoDB client. Required.
	Client awsapi.DynamoDB
	// TableName is the lease table's name (3-255 characters of a-z, A-Z,
	// 0-9, '_', '-', '.'). Required.
	TableName string
	// BillingMode of a table that EnsureTable creates:
	// types.BillingModePayPerRequest or types.BillingModeProvisioned.
	// Required. An existing table is left as it is.
	BillingMode types.BillingMode
	// ReadCapacity and WriteCapacity are the capacity units of a
	// provisioned table and of its owner index. Required (> 0) with
	// BillingModeProvisioned, must be 0 otherwise.
	ReadCapacity  int64
	WriteCapacity int64
	// ScanPageSize is the most items one Scan or Query page reads; 0 (the
	// default) leaves it to DynamoDB (1 MB pages).
	ScanPageSize int32
	// TableWaitTimeout bounds EnsureTable, including the wait for a new
	// table to become ACTIVE. Required.
	TableWaitTimeout time.Duration
	// Logger receives table creation and fall-back notices, and (at most
	// once per item every lograte.Interval) the items List skips. Default:
	// no logging (the zero Logger is disabled).
	Logger zerolog.Logger
	// Throughput, if set, gives a lease's recent throughput in KB/s; each
	// Checkpoint writes it as the lease's throughputKBps (the figure the
	// Java KCL's leader balances on), so the figure costs no write of its
	// own. ok false leaves the attribute as it is. Default: none.
	Throughput func(leaseKey string) (kbps float64, ok bool)
	// Metrics, if set, counts the items each List skipped as unreadable
	// (metricnames.MetricUnreadableLeaseItems). Default: none.
	Metrics *mscope.Scope
}

// Validate reports every invalid field of c, naming it.
func (c DynamoConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("shardwise: DynamoConfig.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Client == nil {
		bad("Client", "required")
	}
	if err := validTableName(c.TableName); err != "" {
		bad("TableName", "%s", err)
	}
	switch c.BillingMode {
	case "":
		bad("BillingMode", "required")
	case types.BillingModePayPerRequest:
		if c.ReadCapacity != 0 {
			bad("ReadCapacity", "must be 0 with billing mode PAY_PER_REQUEST (got %d)", c.ReadCapacity)
		}
		if c.WriteCapacity != 0 {
			bad("WriteCapacity", "must be 0 with billing mode PAY_PER_REQUEST (got %d)", c.WriteCapacity)
		}
	case types.BillingModeProvisioned:
		if c.ReadCapacity <= 0 {
			bad("ReadCapacity", "must be > 0 with billing mode PROVISIONED (got %d)", c.ReadCapacity)
		}
		if c.WriteCapacity <= 0 {
			bad("WriteCapacity", "must be > 0 with billing mode PROVISIONED (got %d)", c.WriteCapacity)
		}
	default:
		bad("BillingMode", "%q is neither PAY_PER_REQUEST nor PROVISIONED", c.BillingMode)
	}
	if c.ScanPageSize < 0 {
		bad("ScanPageSize", "must not be negative (got %d)", c.ScanPageSize)
	}
	if c.TableWaitTimeout <= 0 {
		bad("TableWaitTimeout", "must be positive (got %v)", c.TableWaitTimeout)
	}
	return errors.Join(errs...)
}

func validTableName(name string) string {
	if name == "" {
		return "required"
	}
	if len(name) < 3 || len(name) > 255 {
		return fmt.Sprintf("%q must be 3 to 255 characters long", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return fmt.Sprintf("%q has %q; only a-z, A-Z, 0-9, '_', '-' and '.' are allowed", name, r)
		}
	}
	return ""
}

// DynamoStore is the Store on a DynamoDB lease table in the Java KCL v3
// format. Every write is an UpdateItem (or, for Create, a PutItem) with the
// condition the Store interface documents, so attributes Shardwise does not
// model survive its writes. Each condition also requires the item to exist
// and to be a lease, so no write creates an item or touches one of the
// other entities KCL 3.5 keeps in the same table.
type DynamoStore struct {
	client      awsapi.DynamoDB
	table       string
	billing     types.BillingMode
	rcu, wcu    int64
	pageSize    int32
	waitTimeout time.Duration
	log         zerolog.Logger
	warn        *lograte.Limiter // unreadable items, one line per item per interval
	metrics     *mscope.Scope    // nil records nothing
	leaseKBps   func(string) (float64, bool)

	// pollMin and pollMax bound the interval between DescribeTable polls
	// while EnsureTable waits; indexRecheck is how often ListKeysByOwner
	// asks again whether a missing owner index has appeared. Fixed after
	// construction (tests shorten them).
	pollMin, pollMax time.Duration
	indexRecheck     time.Duration

	// indexReady is true once the owner index was seen ACTIVE with the
	// expected schema; from then on ListKeysByOwner queries it.
	indexReady atomic.Bool

	mu             sync.Mutex
	lastIndexCheck time.Time // guarded by mu; when the index was last described
}

var _ leases.Store = (*DynamoStore)(nil)

// tablePollMin and tablePollMax bound the interval between DescribeTable
// polls while EnsureTable waits for a table.
const (
	tablePollMin = 20 * time.Millisecond
	tablePollMax = time.Second
)

// NewDynamoStore validates cfg and returns a store on its table. It makes
// no request; call EnsureTable before using the store.
func NewDynamoStore(cfg DynamoConfig) (*DynamoStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &DynamoStore{
		client:       cfg.Client,
		table:        cfg.TableName,
		billing:      cfg.BillingMode,
		rcu:          cfg.ReadCapacity,
		wcu:          cfg.WriteCapacity,
		pageSize:     cfg.ScanPageSize,
		waitTimeout:  cfg.TableWaitTimeout,
		log:          cfg.Logger.With().Str("table", cfg.TableName).Logger(),
		warn:         lograte.New(lograte.Interval),
		metrics:      cfg.Metrics,
		leaseKBps:    cfg.Throughput,
		pollMin:      tablePollMin,
		pollMax:      tablePollMax,
		indexRecheck: 30 * time.Second,
	}
	return s, nil
}

// TableName returns the lease table's name.
func (s *DynamoStore) TableName() string { return s.table }

// apiError wraps an error from DynamoDB with the operation and the table,
// so that a missing permission says what to grant on what.
func (s *DynamoStore) apiError(apiOp string, err error) error {
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("shardwise: access denied: dynamodb:%s on table %q (grant it to the worker's role on the table and its indexes): %w", apiOp, s.table, err)
	}
	return fmt.Errorf("shardwise: dynamodb:%s on table %q: %w", apiOp, s.table, err)
}

func (s *DynamoStore) key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{kclschema.AttrLeaseKey: avS(k)}
}

// Create implements Store.
func (s *DynamoStore) Create(ctx context.Context, l leases.Lease) (bool, error) {
	if err := validateNewLease(l); err != nil {
		return false, err
	}
	e := newExpr()
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     leaseItem(normalizeLease(l)),
		ConditionExpression:      aws.String(fmt.Sprintf("attribute_not_exists(%s)", e.n(kclschema.AttrLeaseKey))),
		ExpressionAttributeNames: e.names,
	})
	switch {
	case err == nil:
		return true, nil
	case awsapi.IsConditionFailed(err):
		return false, nil
	}
	return false, s.apiError("PutItem", err)
}

// Get implements Store. An item of another KCL entity type is not a lease
// and reads as ErrNotFound.
func (s *DynamoStore) Get(ctx context.Context, key string) (leases.Lease, error) {
	if key == "" {
		return leases.Lease{}, leaseargs.Error(leaseargs.OpGet, "", "lease key is empty")
	}
	item, err := s.getItem(ctx, key)
	if err != nil {
		return leases.Lease{}, err
	}
	if len(item) == 0 {
		return leases.Lease{}, notFound(leaseargs.OpGet, key)
	}
	if !isLeaseItem(item) {
		return leases.Lease{}, fmt.Errorf("%w (the item is a %s item)", notFound(leaseargs.OpGet, key), entityTypeOf(item))
	}
	return decodeLease(item)
}

func (s *DynamoStore) getItem(ctx context.Context, key string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            s.key(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, s.apiError("GetItem", err)
	}
	return out.Item, nil
}

// List implements Store; leases come sorted by key. A lease item it
// cannot read (an attribute of a type neither Shardwise nor the Java KCL
// writes there) is skipped, logged and counted, so one odd item cannot
// stop the other leases from being synced, assigned and processed; the
// item itself is left as it is.
func (s *DynamoStore) List(ctx context.Context) ([]leases.Lease, error) {
	var out []leases.Lease
	unreadable := 0
	in := &dynamodb.ScanInput{
		TableName:      aws.String(s.table),
		ConsistentRead: aws.Bool(true),
	}
	if s.pageSize > 0 {
		in.Limit = aws.Int32(s.pageSize)
	}
	for {
		page, err := s.client.Scan(ctx, in)
		if err != nil {
			return nil, s.apiError("Scan", err)
		}
		for _, item := range page.Items {
			if !isLeaseItem(item) {
				continue
			}
			l, err := decodeLease(item)
			if err != nil {
				unreadable++
				s.skipUnreadable(item, err)
				continue
			}
			out = append(out, l)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	s.metrics.Count(metricnames.MetricUnreadableLeaseItems, int64(unreadable), metrics.LevelSummary)
	slices.SortFunc(out, func(a, b leases.Lease) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

// skipUnreadable logs a lease item List skips, at most once per item
// every lograte.Interval.
func (s *DynamoStore) skipUnreadable(item map[string]types.AttributeValue, err error) {
	key := "?"
	if k, ok := item[kclschema.AttrLeaseKey].(*types.AttributeValueMemberS); ok {
		key = k.Value
	}
	s.warn.Warn(&s.log, "unreadable:"+key).Err(err).Str("lease", key).
		Msg("skipping a lease item with an attribute of an unexpected type; the other leases go on (fix or delete the item to have its shard processed)")
}

// ListKeysByOwner implements Store; keys come sorted. It queries the owner
// index, or scans the table with a filter while the index is missing or
// still being built (a table made by an older KCL, or an index being
// added): slower, but the answer is the same.
func (s *DynamoStore) ListKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	if owner == "" {
		return nil, leaseargs.Error(leaseargs.OpListKeysByOwner, "", "owner is empty")
	}
	if s.ownerIndexReady(ctx) {
		return s.queryKeysByOwner(ctx, owner)
	}
	return s.scanKeysByOwner(ctx, owner)
}

func (s *DynamoStore) queryKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(kclschema.OwnerIndexName),
		KeyConditionExpression:    aws.String(fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseOwner), e.v(avS(owner)))),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
	}
	if s.pageSize > 0 {
		in.Limit = aws.Int32(s.pageSize)
	}
	return s.collectKeys("Query", func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		in.ExclusiveStartKey = start
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return page.Items, page.LastEvaluatedKey, nil
	})
}

func (s *DynamoStore) scanKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	e := newExpr()
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String(fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseOwner), e.v(avS(owner)))),
		ProjectionExpression:      aws.String(e.n(kclschema.AttrLeaseKey) + ", " + e.n(kclschema.AttrEntityType)),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
	}
	if s.pageSize > 0 {
		in.Limit = aws.Int32(s.pageSize)
	}
	return s.collectKeys("Scan", func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		in.ExclusiveStartKey = start
		page, err := s.client.Scan(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return page.Items, page.LastEvaluatedKey, nil
	})
}

// collectKeys pages through a Query or Scan (fetch reads the page after
// start) and returns the lease keys found, sorted.
func (s *DynamoStore) collectKeys(op string, fetch func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error)) ([]string, error) {
	var keys []string
	var start map[string]types.AttributeValue
	for {
		items, last, err := fetch(start)
		if err != nil {
			return nil, s.apiError(op, err)
		}
		keys = appendKeys(keys, items)
		if len(last) == 0 {
			break
		}
		start = last
	}
	slices.Sort(keys)
	return keys, nil
}

// appendKeys adds the lease keys of items. The index projects keys only,
// so it cannot tell entity types apart; KCL's non-lease items carry no
// leaseOwner and so are not in it.
func appendKeys(keys []string, items []map[string]types.AttributeValue) []string {
	for _, item := range items {
		if !isLeaseItem(item) {
			continue
		}
		if k, ok := item[kclschema.AttrLeaseKey].(*types.AttributeValueMemberS); ok {
			keys = append(keys, k.Value)
		}
	}
	return keys
}

// write sends one conditional UpdateItem and returns the item as stored
// after it. The error is the client's, unwrapped, so callers can tell a
// failed condition apart.
func (s *DynamoStore) write(ctx context.Context, key string, e *expr, set, remove []string, cond string) (map[string]types.AttributeValue, error) {
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 s.key(key),
		UpdateExpression:                    aws.String(update(set, remove)),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// ownershipWrite runs one of the writes that fail with ErrConditionFailed
// (or ErrNotFound) and return the lease.
func (s *DynamoStore) ownershipWrite(ctx context.Context, op, key string, e *expr, set, remove []string, cond string) (leases.Lease, error) {
	item, err := s.write(ctx, key, e, set, remove, cond)
	if err != nil {
		if awsapi.IsConditionFailed(err) {
			return leases.Lease{}, s.conditionError(ctx, op, key, err)
		}
		return leases.Lease{}, s.apiError("UpdateItem", err)
	}
	return decodeLease(item)
}

// conditionError tells a lease that changed from one that is gone. DynamoDB
// returns the old item with a failed condition when asked to, which
// settles it at no cost; emulators (dynalite) ignore the request, so an
// empty answer is checked with a read.
func (s *DynamoStore) conditionError(ctx context.Context, op, key string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && len(ccf.Item) > 0 && isLeaseItem(ccf.Item) {
		return conditionFailed(op, key)
	}
	item, gerr := s.getItem(ctx, key)
	if gerr != nil {
		// The write did fail its condition; only the reason is unknown.
		s.log.Debug().Err(gerr).Str("lease", key).Str("op", op).Msg("reading lease after failed condition")
		return conditionFailed(op, key)
	}
	if len(item) == 0 || !isLeaseItem(item) {
		return notFound(op, key)
	}
	return conditionFailed(op, key)
}

// Take implements Store.
func (s *DynamoStore) Take(ctx context.Context, l leases.Lease, newOwner string) (leases.Lease, error) {
	if err := leaseargs.Transfer(leaseargs.OpTake, l.Key, l.Owner, newOwner); err != nil {
		return leases.Lease{}, err
	}
	e := newExpr()
	cond := e.isLease() + " AND " + e.ownerIs(l.Owner) + " AND " + e.counterIs(l.Counter)
	set := []string{
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseOwner), e.v(avS(newOwner))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseCounter), e.v(avN(l.Counter+1))),
	}
	if newOwner != l.Owner {
		sw := e.n(kclschema.AttrOwnerSwitchesSinceCheckpoint)
		set = append(set, fmt.Sprintf("%s = if_not_exists(%s, %s) + %s", sw, sw, e.v(avN(0)), e.v(avN(1))))
	}
	remove := []string{e.n(kclschema.AttrCheckpointOwner)}
	return s.ownershipWrite(ctx, leaseargs.OpTake, l.Key, e, set, remove, cond)
}

// Release implements Store.
func (s *DynamoStore) Release(ctx context.Context, l leases.Lease) (leases.Lease, error) {
	if l.Key == "" {
		return leases.Lease{}, leaseargs.Error(leaseargs.OpRelease, "", "lease key is empty")
	}
	e := newExpr()
	cond := e.isLease() + " AND " + e.ownerIs(l.Owner) + " AND " + e.counterIs(l.Counter)
	set := []string{fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseCounter), e.v(avN(l.Counter+1)))}
	remove := []string{e.n(kclschema.AttrLeaseOwner)}
	return s.ownershipWrite(ctx, leaseargs.OpRelease, l.Key, e, set, remove, cond)
}

// StartHandoff implements Store.
func (s *DynamoStore) StartHandoff(ctx context.Context, l leases.Lease, newOwner string) (leases.Lease, error) {
	if err := leaseargs.Transfer(leaseargs.OpStartHandoff, l.Key, l.Owner, newOwner); err != nil {
		return leases.Lease{}, err
	}
	e := newExpr()
	cond := e.isLease() + " AND " + e.ownerIs(l.Owner) + " AND " + e.counterIs(l.Counter) +
		fmt.Sprintf(" AND attribute_not_exists(%s)", e.n(kclschema.AttrCheckpointOwner))
	set := []string{
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseOwner), e.v(avS(newOwner))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrCheckpointOwner), e.v(avS(l.Owner))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseCounter), e.v(avN(l.Counter+1))),
	}
	return s.ownershipWrite(ctx, leaseargs.OpStartHandoff, l.Key, e, set, nil, cond)
}

// CompleteHandoff implements Store.
func (s *DynamoStore) CompleteHandoff(ctx context.Context, key, oldOwner string) (leases.Lease, error) {
	if err := leaseargs.Fenced(leaseargs.OpCompleteHandoff, key, oldOwner); err != nil {
		return leases.Lease{}, err
	}
	e := newExpr()
	cond := e.isLease() + fmt.Sprintf(" AND %s = %s", e.n(kclschema.AttrCheckpointOwner), e.v(avS(oldOwner)))
	set := []string{e.incrementCounter()}
	remove := []string{e.n(kclschema.AttrCheckpointOwner)}
	return s.ownershipWrite(ctx, leaseargs.OpCompleteHandoff, key, e, set, remove, cond)
}

// fencedWrite runs one of the checkpoint-fenced writes and returns the
// new counter. A failed fence is a lost lease whether the lease changed
// hands or is gone: either way the writer must stop.
func (s *DynamoStore) fencedWrite(ctx context.Context, op, key, owner string, counter int64, e *expr, set, remove []string) (int64, error) {
	cond := e.isLease() + " AND " + e.fence(owner, counter)
	set = append(set, e.incrementCounter())
	item, err := s.write(ctx, key, e, set, remove, cond)
	if err != nil {
		if awsapi.IsConditionFailed(err) {
			s.log.Debug().Str("lease", key).Str("owner", owner).Int64("counter", counter).Str("op", op).Msg("fenced write refused: lease lost")
			return 0, leaseLost(op, key)
		}
		return 0, s.apiError("UpdateItem", err)
	}
	l, err := decodeLease(item)
	if err != nil {
		return 0, err
	}
	return l.Counter, nil
}

// Checkpoint implements Store.
func (s *DynamoStore) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	if err := leaseargs.Fenced(leaseargs.OpCheckpoint, key, owner); err != nil {
		return 0, err
	}
	if err := leaseargs.Position(pos); err != nil {
		return 0, err
	}
	e := newExpr()
	set := []string{
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrCheckpoint), e.v(avS(pos.SequenceNumber))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrCheckpointSubSequenceNumber), e.v(avN(pos.SubSequenceNumber))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrOwnerSwitchesSinceCheckpoint), e.v(avN(0))),
	}
	if s.leaseKBps != nil {
		if kbps, ok := s.leaseKBps(key); ok && kbps >= 0 && !math.IsInf(kbps, 0) && !math.IsNaN(kbps) {
			set = append(set, fmt.Sprintf("%s = %s", e.n(kclschema.AttrThroughputKBps), e.v(avF(kbps))))
		}
	}
	remove := []string{
		e.n(kclschema.AttrPendingCheckpoint),
		e.n(kclschema.AttrPendingCheckpointSubSequenceNumber),
		e.n(kclschema.AttrPendingCheckpointState),
	}
	return s.fencedWrite(ctx, leaseargs.OpCheckpoint, key, owner, counter, e, set, remove)
}

// PrepareCheckpoint implements Store. Empty state removes any state saved
// with an earlier prepared checkpoint.
func (s *DynamoStore) PrepareCheckpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber, state []byte) (int64, error) {
	if err := leaseargs.Fenced(leaseargs.OpPrepareCheckpoint, key, owner); err != nil {
		return 0, err
	}
	if err := leaseargs.Position(pos); err != nil {
		return 0, err
	}
	e := newExpr()
	set := []string{
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrPendingCheckpoint), e.v(avS(pos.SequenceNumber))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrPendingCheckpointSubSequenceNumber), e.v(avN(pos.SubSequenceNumber))),
	}
	var remove []string
	if len(state) > 0 {
		set = append(set, fmt.Sprintf("%s = %s", e.n(kclschema.AttrPendingCheckpointState), e.v(&types.AttributeValueMemberB{Value: slices.Clone(state)})))
	} else {
		remove = append(remove, e.n(kclschema.AttrPendingCheckpointState))
	}
	return s.fencedWrite(ctx, leaseargs.OpPrepareCheckpoint, key, owner, counter, e, set, remove)
}

// SetChildShards implements Store. Duplicate and empty ids are dropped (a
// string set holds neither); no children at all removes the attribute.
func (s *DynamoStore) SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (int64, error) {
	if err := leaseargs.Fenced(leaseargs.OpSetChildShards, key, owner); err != nil {
		return 0, err
	}
	children = leaseargs.ShardIDs(children)
	e := newExpr()
	var set, remove []string
	if len(children) > 0 {
		set = append(set, fmt.Sprintf("%s = %s", e.n(kclschema.AttrChildShardIDs), e.v(avSS(children))))
	} else {
		remove = append(remove, e.n(kclschema.AttrChildShardIDs))
	}
	return s.fencedWrite(ctx, leaseargs.OpSetChildShards, key, owner, counter, e, set, remove)
}

// Delete implements Store.
func (s *DynamoStore) Delete(ctx context.Context, key string, counter int64) error {
	if key == "" {
		return leaseargs.Error(leaseargs.OpDelete, "", "lease key is empty")
	}
	e := newExpr()
	cond := fmt.Sprintf("attribute_not_exists(%s) OR (%s AND %s)", e.n(kclschema.AttrLeaseKey), e.isLease(), e.counterIs(counter))
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.key(key),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
	})
	switch {
	case err == nil:
		return nil
	case awsapi.IsConditionFailed(err):
		return conditionFailed(leaseargs.OpDelete, key)
	}
	return s.apiError("DeleteItem", err)
}
