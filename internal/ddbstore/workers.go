package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbtable"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// DynamoWorkerStore keeps worker records in the worker-metrics table.
type DynamoWorkerStore struct {
	client      awsapi.DynamoDB
	table       string
	waitTimeout time.Duration // bounds EnsureTable
}

var _ leases.WorkerStore = (*DynamoWorkerStore)(nil)

// NewDynamoWorkerStore returns a store on table (conventionally
// <app>-WorkerMetricStats); waitTimeout bounds EnsureTable.
func NewDynamoWorkerStore(client awsapi.DynamoDB, table string, waitTimeout time.Duration) (*DynamoWorkerStore, error) {
	if client == nil {
		return nil, errors.New("shardwise: worker store: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("shardwise: worker store: empty table name")
	}
	if waitTimeout <= 0 {
		return nil, &consumer.ConfigError{Field: "waitTimeout", Reason: fmt.Sprintf("%v is not positive", waitTimeout)}
	}
	return &DynamoWorkerStore{client: client, table: table, waitTimeout: waitTimeout}, nil
}

// EnsureTable implements WorkerStore.
func (s *DynamoWorkerStore) EnsureTable(ctx context.Context) error {
	return ddbtable.Ensure(ctx, s.client, ddbtable.Spec{
		Table: s.table, HashKey: kclschema.AttrWorkerID, HashType: types.ScalarAttributeTypeS,
		BillingMode: types.BillingModePayPerRequest, WaitTimeout: s.waitTimeout, PollMin: tablePollMin, PollMax: tablePollMax,
	})
}

func workerItem(r leases.WorkerRecord) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		kclschema.AttrWorkerID:   avS(r.ID),
		kclschema.AttrSessionID:  avS(r.SessionID),
		kclschema.AttrHeartbeat:  avN(r.Heartbeat),
		kclschema.AttrLastUpdate: avN(r.LastUpdate.Unix()),
		kclschema.AttrDraining:   &types.AttributeValueMemberBOOL{Value: r.Draining},
	}
	if len(r.Stats) > 0 {
		item[kclschema.AttrStats] = seriesAV(r.Stats)
	}
	if len(r.OperatingRange) > 0 {
		item[kclschema.AttrOperatingRange] = seriesAV(r.OperatingRange)
	}
	if len(r.LeaseThroughput) > 0 {
		m := make(map[string]types.AttributeValue, len(r.LeaseThroughput))
		for k, v := range r.LeaseThroughput {
			m[k] = avF(v)
		}
		item[kclschema.AttrLeaseThroughput] = &types.AttributeValueMemberM{Value: m}
	}
	if len(r.LeaseLag) > 0 {
		m := make(map[string]types.AttributeValue, len(r.LeaseLag))
		for k, v := range r.LeaseLag {
			m[k] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
		}
		item[kclschema.AttrLeaseLag] = &types.AttributeValueMemberM{Value: m}
	}
	return item
}

func avF(f float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}
}

func seriesAV(m map[string][]float64) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, vs := range m {
		l := make([]types.AttributeValue, len(vs))
		for i, v := range vs {
			l[i] = avF(v)
		}
		out[k] = &types.AttributeValueMemberL{Value: l}
	}
	return &types.AttributeValueMemberM{Value: out}
}

func decodeWorker(item map[string]types.AttributeValue) (leases.WorkerRecord, error) {
	var r leases.WorkerRecord
	num := func(av types.AttributeValue) (float64, bool) {
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		return f, err == nil
	}
	if s, ok := item[kclschema.AttrWorkerID].(*types.AttributeValueMemberS); ok {
		r.ID = s.Value
	} else {
		return r, fmt.Errorf("shardwise: worker item without %s", kclschema.AttrWorkerID)
	}
	// Only a row in Shardwise's own format is a Shardwise worker: one
	// with a session and a heartbeat counter. A Java KCL worker's row in
	// the same table (wid, lut, sts, opr, ...) has neither; counted as a
	// worker it would be given leases no process answers to, and since
	// Remove is conditioned on the session it could never be cleared.
	if s, ok := item[kclschema.AttrSessionID].(*types.AttributeValueMemberS); ok && s.Value != "" {
		r.SessionID = s.Value
	} else {
		return r, fmt.Errorf("shardwise: worker item %q: %w", r.ID, errForeignWorker)
	}
	if f, ok := num(item[kclschema.AttrHeartbeat]); ok {
		r.Heartbeat = int64(f)
	} else {
		return r, fmt.Errorf("shardwise: worker item %q: %w", r.ID, errForeignWorker)
	}
	if f, ok := num(item[kclschema.AttrLastUpdate]); ok {
		r.LastUpdate = time.Unix(int64(f), 0)
	}
	if b, ok := item[kclschema.AttrDraining].(*types.AttributeValueMemberBOOL); ok {
		r.Draining = b.Value
	}
	series := func(attr string) map[string][]float64 {
		m, ok := item[attr].(*types.AttributeValueMemberM)
		if !ok {
			return nil
		}
		out := make(map[string][]float64, len(m.Value))
		for k, v := range m.Value {
			l, ok := v.(*types.AttributeValueMemberL)
			if !ok {
				continue
			}
			for _, e := range l.Value {
				if f, ok := num(e); ok {
					out[k] = append(out[k], f)
				}
			}
		}
		return out
	}
	r.Stats = series(kclschema.AttrStats)
	r.OperatingRange = series(kclschema.AttrOperatingRange)
	if m, ok := item[kclschema.AttrLeaseThroughput].(*types.AttributeValueMemberM); ok {
		r.LeaseThroughput = make(map[string]float64, len(m.Value))
		for k, v := range m.Value {
			if f, ok := num(v); ok {
				r.LeaseThroughput[k] = f
			}
		}
	}
	if m, ok := item[kclschema.AttrLeaseLag].(*types.AttributeValueMemberM); ok {
		r.LeaseLag = make(map[string]int64, len(m.Value))
		for k, v := range m.Value {
			if f, ok := num(v); ok {
				r.LeaseLag[k] = int64(f)
			}
		}
	}
	return r, nil
}

// errForeignWorker marks a worker-metrics row Shardwise did not write in
// its own format (a Java KCL worker's): never a live Shardwise worker,
// never rewritten or deleted.
var errForeignWorker = errors.New("shardwise: not a Shardwise worker record (no session and heartbeat attributes; a Java KCL worker's row?)")

// IsForeignWorker reports whether err says a worker row is not in
// Shardwise's format.
func IsForeignWorker(err error) bool { return errors.Is(err, errForeignWorker) }

func (s *DynamoWorkerStore) apiError(op string, err error) error {
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("shardwise: not allowed to call dynamodb:%s on table %q: %w", op, s.table, err)
	}
	return fmt.Errorf("shardwise: dynamodb:%s on table %q: %w", op, s.table, err)
}

// Register implements WorkerStore.
func (s *DynamoWorkerStore) Register(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	r = r.Clone()
	r.Heartbeat = 1
	r.LastUpdate = time.Now()
	// A new session replaces an earlier one of the same id, but never a
	// row of another format: a Java KCL worker of the same id keeps its
	// row byte for byte.
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     workerItem(r),
		ConditionExpression:      aws.String("attribute_not_exists(#wid) OR attribute_exists(#sid)"),
		ExpressionAttributeNames: map[string]string{"#wid": kclschema.AttrWorkerID, "#sid": kclschema.AttrSessionID},
	})
	if awsapi.IsConditionFailed(err) {
		return leases.WorkerRecord{}, fmt.Errorf("shardwise: worker id %q already has a row in table %q that Shardwise did not write (a Java KCL worker's?); "+
			"give this worker another WorkerID, or delete that row once the Java workers are stopped: %w", r.ID, s.table, errForeignWorker)
	}
	if err != nil {
		return leases.WorkerRecord{}, s.apiError("PutItem", err)
	}
	return r, nil
}

// Heartbeat implements WorkerStore. The whole item is rewritten (it is
// small, and a put costs the same write unit as an update) on condition
// that the session and counter are the ones this worker wrote last.
func (s *DynamoWorkerStore) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	prev := r.Heartbeat
	r = r.Clone()
	r.Heartbeat = prev + 1
	r.LastUpdate = time.Now()
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                workerItem(r),
		ConditionExpression: aws.String("#sid = :sid AND #hb = :hb"),
		ExpressionAttributeNames: map[string]string{
			"#sid": kclschema.AttrSessionID, "#hb": kclschema.AttrHeartbeat,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sid": avS(r.SessionID), ":hb": avN(prev),
		},
	})
	if awsapi.IsConditionFailed(err) {
		return leases.WorkerRecord{}, fmt.Errorf("shardwise: heartbeat of worker %s: %w", r.ID, leases.ErrConditionFailed)
	}
	if err != nil {
		return leases.WorkerRecord{}, s.apiError("PutItem", err)
	}
	return r, nil
}

// List implements WorkerStore.
func (s *DynamoWorkerStore) List(ctx context.Context) ([]leases.WorkerRecord, error) {
	var out []leases.WorkerRecord
	in := &dynamodb.ScanInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true)}
	for {
		page, err := s.client.Scan(ctx, in)
		if err != nil {
			return nil, s.apiError("Scan", err)
		}
		for _, item := range page.Items {
			r, err := decodeWorker(item)
			if err != nil {
				continue // not a worker record of ours (a Java KCL worker's): skip, never count or rewrite it
			}
			out = append(out, r)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Deregister implements WorkerStore.
func (s *DynamoWorkerStore) Deregister(ctx context.Context, id, session string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{kclschema.AttrWorkerID: avS(id)},
		ConditionExpression:       aws.String("#sid = :sid"),
		ExpressionAttributeNames:  map[string]string{"#sid": kclschema.AttrSessionID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(session)},
	})
	if err == nil || awsapi.IsConditionFailed(err) {
		return nil
	}
	return s.apiError("DeleteItem", err)
}

// Get implements WorkerStore.
func (s *DynamoWorkerStore) Get(ctx context.Context, id string) (leases.WorkerRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{kclschema.AttrWorkerID: avS(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return leases.WorkerRecord{}, s.apiError("GetItem", err)
	}
	if len(out.Item) == 0 {
		return leases.WorkerRecord{}, leases.ErrNotFound
	}
	r, err := decodeWorker(out.Item)
	if errors.Is(err, errForeignWorker) {
		// No Shardwise worker has this id.
		return leases.WorkerRecord{}, fmt.Errorf("%w: %w", leases.ErrNotFound, err)
	}
	return r, err
}

// Remove implements WorkerStore.
func (s *DynamoWorkerStore) Remove(ctx context.Context, r leases.WorkerRecord) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{kclschema.AttrWorkerID: avS(r.ID)},
		ConditionExpression:      aws.String("#sid = :sid AND #hb = :hb"),
		ExpressionAttributeNames: map[string]string{"#sid": kclschema.AttrSessionID, "#hb": kclschema.AttrHeartbeat},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sid": avS(r.SessionID), ":hb": avN(r.Heartbeat),
		},
	})
	if err == nil || awsapi.IsConditionFailed(err) {
		return nil
	}
	return s.apiError("DeleteItem", err)
}
