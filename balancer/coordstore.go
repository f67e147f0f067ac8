package balancer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbtable"
	"github.com/shardwise/shardwise/leases"
)

// Coordinator-state table (<app>-CoordinatorState, hash key "key").
const (
	AttrKey       = "key"
	AttrLeader    = "leader"
	AttrSessionID = "sid"
	AttrEpoch     = "epoch"
	// LeaderKey is the item that names the leader.
	LeaderKey = "Leader"
)

// LeaderRecord names the current leader. Epoch increases with every claim
// and release, and every write is conditioned on it.
type LeaderRecord struct {
	Leader    string // worker id; "" when released
	SessionID string // the leader's worker session
	Epoch     int64  // 0 when the item does not exist
}

// CoordinatorStore keeps the leader item.
type CoordinatorStore interface {
	EnsureTable(ctx context.Context) error
	// GetLeader reads the leader item (strongly consistent); the zero
	// record if absent.
	GetLeader(ctx context.Context) (LeaderRecord, error)
	// ClaimLeader names leader (with its session) as leader, on condition
	// that the stored epoch is still prevEpoch (absent for 0).
	// leases.ErrConditionFailed if someone else wrote first.
	ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (LeaderRecord, error)
	// ReleaseLeader clears the leader, on condition that the stored record
	// is still rec.
	ReleaseLeader(ctx context.Context, rec LeaderRecord) error
}

// MemoryCoordinatorStore is an in-memory CoordinatorStore.
type MemoryCoordinatorStore struct {
	mu     sync.Mutex // guards the fields below
	rec    LeaderRecord
	writes int64
}

var _ CoordinatorStore = (*MemoryCoordinatorStore)(nil)

// NewMemoryCoordinatorStore returns an empty store.
func NewMemoryCoordinatorStore() *MemoryCoordinatorStore { return &MemoryCoordinatorStore{} }

// Writes counts write attempts.
func (s *MemoryCoordinatorStore) Writes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// EnsureTable implements CoordinatorStore.
func (s *MemoryCoordinatorStore) EnsureTable(context.Context) error { return nil }

// GetLeader implements CoordinatorStore.
func (s *MemoryCoordinatorStore) GetLeader(ctx context.Context) (LeaderRecord, error) {
	if err := ctx.Err(); err != nil {
		return LeaderRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec, nil
}

// ClaimLeader implements CoordinatorStore.
func (s *MemoryCoordinatorStore) ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (LeaderRecord, error) {
	if err := ctx.Err(); err != nil {
		return LeaderRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.rec.Epoch != prevEpoch {
		return LeaderRecord{}, leases.ErrConditionFailed
	}
	s.rec = LeaderRecord{Leader: leader, SessionID: session, Epoch: prevEpoch + 1}
	return s.rec, nil
}

// ReleaseLeader implements CoordinatorStore.
func (s *MemoryCoordinatorStore) ReleaseLeader(ctx context.Context, rec LeaderRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.rec != rec {
		return leases.ErrConditionFailed
	}
	s.rec = LeaderRecord{Epoch: rec.Epoch + 1}
	return nil
}

// DynamoCoordinatorStore keeps the leader item in DynamoDB.
type DynamoCoordinatorStore struct {
	client awsapi.DynamoDB
	table  string
}

var _ CoordinatorStore = (*DynamoCoordinatorStore)(nil)

// NewDynamoCoordinatorStore returns a store on table (conventionally
// <app>-CoordinatorState).
func NewDynamoCoordinatorStore(client awsapi.DynamoDB, table string) (*DynamoCoordinatorStore, error) {
	if client == nil || table == "" {
		return nil, errors.New("shardwise/balancer: coordinator store needs a client and a table name")
	}
	return &DynamoCoordinatorStore{client: client, table: table}, nil
}

// EnsureTable implements CoordinatorStore.
func (s *DynamoCoordinatorStore) EnsureTable(ctx context.Context) error {
	err := ddbtable.Ensure(ctx, s.client, ddbtable.Spec{Table: s.table, HashKey: AttrKey, HashType: types.ScalarAttributeTypeS})
	var se *ddbtable.SchemaError
	if errors.As(err, &se) {
		return &leases.TableSchemaError{Table: se.Table, Want: se.Want, Got: se.Got}
	}
	return err
}

func (s *DynamoCoordinatorStore) keyAV() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: LeaderKey}}
}

func (s *DynamoCoordinatorStore) apiError(op string, err error) error {
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("shardwise: not allowed to call dynamodb:%s on table %q: %w", op, s.table, err)
	}
	return fmt.Errorf("shardwise: dynamodb:%s on table %q: %w", op, s.table, err)
}

// GetLeader implements CoordinatorStore.
func (s *DynamoCoordinatorStore) GetLeader(ctx context.Context) (LeaderRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: s.keyAV(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return LeaderRecord{}, s.apiError("GetItem", err)
	}
	var r LeaderRecord
	if v, ok := out.Item[AttrLeader].(*types.AttributeValueMemberS); ok {
		r.Leader = v.Value
	}
	if v, ok := out.Item[AttrSessionID].(*types.AttributeValueMemberS); ok {
		r.SessionID = v.Value
	}
	if v, ok := out.Item[AttrEpoch].(*types.AttributeValueMemberN); ok {
		r.Epoch, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	return r, nil
}

func (s *DynamoCoordinatorStore) put(ctx context.Context, prevEpoch int64, r LeaderRecord) error {
	item := s.keyAV()
	item[AttrEpoch] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.Epoch, 10)}
	if r.Leader != "" {
		item[AttrLeader] = &types.AttributeValueMemberS{Value: r.Leader}
		item[AttrSessionID] = &types.AttributeValueMemberS{Value: r.SessionID}
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ExpressionAttributeNames: map[string]string{"#e": AttrEpoch}}
	if prevEpoch == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#e)")
	} else {
		in.ConditionExpression = aws.String("#e = :e")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(prevEpoch, 10)}}
	}
	_, err := s.client.PutItem(ctx, in)
	if awsapi.IsConditionFailed(err) {
		return leases.ErrConditionFailed
	}
	if err != nil {
		return s.apiError("PutItem", err)
	}
	return nil
}

// ClaimLeader implements CoordinatorStore.
func (s *DynamoCoordinatorStore) ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (LeaderRecord, error) {
	r := LeaderRecord{Leader: leader, SessionID: session, Epoch: prevEpoch + 1}
	if err := s.put(ctx, prevEpoch, r); err != nil {
		return LeaderRecord{}, err
	}
	return r, nil
}

// ReleaseLeader implements CoordinatorStore. The epoch alone identifies
// the record: every claim and release changes it.
func (s *DynamoCoordinatorStore) ReleaseLeader(ctx context.Context, rec LeaderRecord) error {
	return s.put(ctx, rec.Epoch, LeaderRecord{Epoch: rec.Epoch + 1})
}
