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

// DynamoCoordinatorStore keeps the leader item in DynamoDB, under its own
// key (kclschema.CoordLeaderKey), never under the Java KCL's "Leader":
// the coordinator-state table is the Java KCL's too, and its leader lock
// and migration items stay as Java wrote them.
type DynamoCoordinatorStore struct {
	client      awsapi.DynamoDB
	table       string
	waitTimeout time.Duration // bounds EnsureTable
}

var _ leases.CoordinatorStore = (*DynamoCoordinatorStore)(nil)

// NewDynamoCoordinatorStore returns a store on table (conventionally
// <app>-CoordinatorState); waitTimeout bounds EnsureTable.
func NewDynamoCoordinatorStore(client awsapi.DynamoDB, table string, waitTimeout time.Duration) (*DynamoCoordinatorStore, error) {
	if client == nil || table == "" {
		return nil, errors.New("shardwise: coordinator store needs a client and a table name")
	}
	if waitTimeout <= 0 {
		return nil, &consumer.ConfigError{Field: "waitTimeout", Reason: fmt.Sprintf("%v is not positive", waitTimeout)}
	}
	return &DynamoCoordinatorStore{client: client, table: table, waitTimeout: waitTimeout}, nil
}

// EnsureTable implements CoordinatorStore.
func (s *DynamoCoordinatorStore) EnsureTable(ctx context.Context) error {
	return ddbtable.Ensure(ctx, s.client, ddbtable.Spec{
		Table: s.table, HashKey: kclschema.AttrCoordKey, HashType: types.ScalarAttributeTypeS,
		BillingMode: types.BillingModePayPerRequest, WaitTimeout: s.waitTimeout, PollMin: tablePollMin, PollMax: tablePollMax,
	})
}

func (s *DynamoCoordinatorStore) keyAV() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{kclschema.AttrCoordKey: &types.AttributeValueMemberS{Value: kclschema.CoordLeaderKey}}
}

func (s *DynamoCoordinatorStore) apiError(op string, err error) error {
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("shardwise: not allowed to call dynamodb:%s on table %q: %w", op, s.table, err)
	}
	return fmt.Errorf("shardwise: dynamodb:%s on table %q: %w", op, s.table, err)
}

// GetLeader implements CoordinatorStore.
func (s *DynamoCoordinatorStore) GetLeader(ctx context.Context) (leases.LeaderRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: s.keyAV(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return leases.LeaderRecord{}, s.apiError("GetItem", err)
	}
	var r leases.LeaderRecord
	if v, ok := out.Item[kclschema.AttrCoordLeader].(*types.AttributeValueMemberS); ok {
		r.Leader = v.Value
	}
	if v, ok := out.Item[kclschema.AttrCoordSessionID].(*types.AttributeValueMemberS); ok {
		r.SessionID = v.Value
	}
	if v, ok := out.Item[kclschema.AttrCoordEpoch].(*types.AttributeValueMemberN); ok {
		r.Epoch, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	return r, nil
}

func (s *DynamoCoordinatorStore) put(ctx context.Context, prevEpoch int64, r leases.LeaderRecord) error {
	item := s.keyAV()
	item[kclschema.AttrCoordEpoch] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.Epoch, 10)}
	if r.Leader != "" {
		item[kclschema.AttrCoordLeader] = &types.AttributeValueMemberS{Value: r.Leader}
		item[kclschema.AttrCoordSessionID] = &types.AttributeValueMemberS{Value: r.SessionID}
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ExpressionAttributeNames: map[string]string{"#e": kclschema.AttrCoordEpoch}}
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
func (s *DynamoCoordinatorStore) ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (leases.LeaderRecord, error) {
	r := leases.LeaderRecord{Leader: leader, SessionID: session, Epoch: prevEpoch + 1}
	if err := s.put(ctx, prevEpoch, r); err != nil {
		return leases.LeaderRecord{}, err
	}
	return r, nil
}

// ReleaseLeader implements CoordinatorStore. The epoch alone identifies
// the record: every claim and release changes it.
func (s *DynamoCoordinatorStore) ReleaseLeader(ctx context.Context, rec leases.LeaderRecord) error {
	return s.put(ctx, rec.Epoch, leases.LeaderRecord{Epoch: rec.Epoch + 1})
}

// RemoveLegacyLeader deletes the leader item an earlier Shardwise version
// kept under the Java KCL's key ("Leader"), once held reports that the
// session it names no longer runs (or it names none): left behind, it
// would meet a Java fleet after a rollback as a lock item without the lock
// client's attributes. It reports whether such an item is still there (its
// leader still runs: look again later). An item there in
// any other shape (the Java KCL's lock, with ownerName and
// recordVersionNumber) is never touched: the delete is conditioned on the
// epoch it read and on the lock attributes being absent.
func (s *DynamoCoordinatorStore) RemoveLegacyLeader(ctx context.Context, held func(ctx context.Context, leader, session string) (bool, error)) (remaining bool, err error) {
	key := map[string]types.AttributeValue{kclschema.AttrCoordKey: avS(kclschema.CoordLegacyLeaderKey)}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, s.apiError("GetItem", err)
	}
	epoch, leader, session, ok := legacyLeader(out.Item)
	if !ok {
		return false, nil
	}
	if leader != "" {
		alive, err := held(ctx, leader, session)
		if err != nil || alive {
			return true, err
		}
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.table),
		Key:                 key,
		ConditionExpression: aws.String("#e = :e AND attribute_not_exists(#o) AND attribute_not_exists(#r)"),
		ExpressionAttributeNames: map[string]string{
			"#e": kclschema.AttrCoordEpoch, "#o": kclschema.AttrLockOwnerName, "#r": kclschema.AttrLockRecordVersion,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberN{Value: epoch}},
	})
	if awsapi.IsConditionFailed(err) {
		return true, nil // it changed since it was read: look again later
	}
	if err != nil {
		return true, s.apiError("DeleteItem", err)
	}
	return false, nil
}

// legacyLeader reads an item as the leader item of an earlier Shardwise
// version: exactly the attributes key, epoch (N) and optionally leader and
// sid (S). Anything else (the Java KCL's lock item above all) is not one.
func legacyLeader(item map[string]types.AttributeValue) (epoch, leader, session string, ok bool) {
	if len(item) == 0 {
		return "", "", "", false
	}
	for name, av := range item {
		switch name {
		case kclschema.AttrCoordKey:
		case kclschema.AttrCoordEpoch:
			n, isN := av.(*types.AttributeValueMemberN)
			if !isN {
				return "", "", "", false
			}
			epoch = n.Value
		case kclschema.AttrCoordLeader, kclschema.AttrCoordSessionID:
			v, isS := av.(*types.AttributeValueMemberS)
			if !isS {
				return "", "", "", false
			}
			if name == kclschema.AttrCoordLeader {
				leader = v.Value
			} else {
				session = v.Value
			}
		default:
			return "", "", "", false
		}
	}
	return epoch, leader, session, epoch != ""
}
