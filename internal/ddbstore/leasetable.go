package ddbstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbtable"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// EnsureTable implements leases.Store through ddbtable.Ensure: it creates
// the table with the owner index when it is absent, waits until the table
// is usable, checks its key schema, and asks for the owner index when the
// table lacks it (tables made by an older KCL). It does not wait for a new
// index to be built: until it is ACTIVE, ListKeysByOwner scans.
func (s *DynamoStore) EnsureTable(ctx context.Context) error {
	indexRefused := false
	return ddbtable.Ensure(ctx, s.client, ddbtable.Spec{
		Table:         s.table,
		HashKey:       kclschema.AttrLeaseKey,
		HashType:      types.ScalarAttributeTypeS,
		BillingMode:   s.billing,
		ReadCapacity:  s.rcu,
		WriteCapacity: s.wcu,
		Attributes:    []types.AttributeDefinition{{AttributeName: aws.String(kclschema.AttrLeaseOwner), AttributeType: types.ScalarAttributeTypeS}},
		Indexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(kclschema.OwnerIndexName),
			KeySchema:  ownerIndexKeySchema(),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
		WaitTimeout: s.waitTimeout,
		PollMin:     s.pollMin,
		PollMax:     s.pollMax,
		Ready: func(ctx context.Context, desc *types.TableDescription) (bool, error) {
			return s.ensureOwnerIndex(ctx, desc, &indexRefused)
		},
		Logger: s.log,
	})
}

func (s *DynamoStore) describe(ctx context.Context) (*types.TableDescription, error) {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return nil, err
	}
	if out.Table == nil {
		return nil, fmt.Errorf("shardwise: dynamodb:DescribeTable on table %q returned no table", s.table)
	}
	return out.Table, nil
}

func (s *DynamoStore) throughput() *types.ProvisionedThroughput {
	if s.billing != types.BillingModeProvisioned {
		return nil
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(s.rcu), WriteCapacityUnits: aws.Int64(s.wcu)}
}

func ownerIndexKeySchema() []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(kclschema.AttrLeaseOwner), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: types.KeyTypeRange},
	}
}

func keyAttributeDefinitions() []types.AttributeDefinition {
	return []types.AttributeDefinition{
		{AttributeName: aws.String(kclschema.AttrLeaseKey), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(kclschema.AttrLeaseOwner), AttributeType: types.ScalarAttributeTypeS},
	}
}

// ensureOwnerIndex records whether the owner index can be queried, and
// asks for it when it is missing. done is false when EnsureTable should
// describe the table again after a pause (another schema change is under
// way, or the request was refused once and a concurrent adder may have
// won).
func (s *DynamoStore) ensureOwnerIndex(ctx context.Context, desc *types.TableDescription, refused *bool) (done bool, err error) {
	if idx := findOwnerIndex(desc); idx != nil {
		ok := ownerIndexUsable(idx)
		if !ok && idx.IndexStatus == types.IndexStatusActive {
			s.log.Warn().Str("index", kclschema.OwnerIndexName).Msg("owner index has an unexpected key schema; ListKeysByOwner will scan the table")
		}
		s.noteIndex(ok)
		return true, nil
	}
	_, err = s.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:            aws.String(s.table),
		AttributeDefinitions: keyAttributeDefinitions(),
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{
			Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName:             aws.String(kclschema.OwnerIndexName),
				KeySchema:             ownerIndexKeySchema(),
				Projection:            &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
				ProvisionedThroughput: s.indexThroughput(desc),
			},
		}},
	})
	switch {
	case err == nil:
		s.log.Info().Str("index", kclschema.OwnerIndexName).Msg("adding owner index to lease table; ListKeysByOwner scans until it is ACTIVE")
		s.noteIndex(false)
		return true, nil
	case ctx.Err() != nil:
		return false, nil // Ensure reports the wait's end
	case awsapi.IsAccessDenied(err):
		return false, s.apiError("UpdateTable", err)
	case awsapi.IsResourceInUse(err), awsapi.IsThrottle(err):
		// Another schema change (most likely another worker adding this
		// index) is under way; look again when it is done.
		return false, nil
	case !*refused:
		// A concurrent adder may have won (DynamoDB then says the index
		// exists): look once more before giving up.
		*refused = true
		return false, nil
	}
	s.log.Warn().Err(err).Str("index", kclschema.OwnerIndexName).Msg("cannot add owner index; ListKeysByOwner will scan the table")
	s.noteIndex(false)
	return true, nil
}

// indexThroughput is the new index's capacity: required on a provisioned
// table, refused on an on-demand one. It follows the table as it is, which
// may differ from this store's configuration.
func (s *DynamoStore) indexThroughput(desc *types.TableDescription) *types.ProvisionedThroughput {
	mode := types.BillingModeProvisioned
	if desc.BillingModeSummary != nil && desc.BillingModeSummary.BillingMode != "" {
		mode = desc.BillingModeSummary.BillingMode
	}
	if mode != types.BillingModeProvisioned {
		return nil
	}
	if s.billing == types.BillingModeProvisioned {
		return s.throughput()
	}
	if pt := desc.ProvisionedThroughput; pt != nil && aws.ToInt64(pt.ReadCapacityUnits) > 0 && aws.ToInt64(pt.WriteCapacityUnits) > 0 {
		return &types.ProvisionedThroughput{ReadCapacityUnits: pt.ReadCapacityUnits, WriteCapacityUnits: pt.WriteCapacityUnits}
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}
}

func (s *DynamoStore) noteIndex(ready bool) {
	s.indexReady.Store(ready)
	s.mu.Lock()
	s.lastIndexCheck = time.Now()
	s.mu.Unlock()
}

// ownerIndexReady reports whether ListKeysByOwner may query the owner
// index. While it is not, the table is described again at most once per
// indexRecheck, so a store that is not told (EnsureTable ran in another
// process) still moves to the index once it is built, without describing
// the table on every call (DescribeTable has a low request-rate limit).
func (s *DynamoStore) ownerIndexReady(ctx context.Context) bool {
	if s.indexReady.Load() {
		return true
	}
	s.mu.Lock()
	due := s.lastIndexCheck.IsZero() || time.Since(s.lastIndexCheck) >= s.indexRecheck
	if due {
		s.lastIndexCheck = time.Now()
	}
	s.mu.Unlock()
	if !due {
		return false
	}
	desc, err := s.describe(ctx)
	if err != nil {
		s.log.Debug().Err(err).Msg("describing lease table for its owner index")
		return false
	}
	idx := findOwnerIndex(desc)
	if idx == nil || !ownerIndexUsable(idx) {
		return false
	}
	s.indexReady.Store(true)
	return true
}

func findOwnerIndex(desc *types.TableDescription) *types.GlobalSecondaryIndexDescription {
	for i := range desc.GlobalSecondaryIndexes {
		if aws.ToString(desc.GlobalSecondaryIndexes[i].IndexName) == kclschema.OwnerIndexName {
			return &desc.GlobalSecondaryIndexes[i]
		}
	}
	return nil
}

// ownerIndexUsable reports whether the index is ACTIVE with the keys
// ListKeysByOwner queries by. Any projection will do: it includes the keys.
func ownerIndexUsable(idx *types.GlobalSecondaryIndexDescription) bool {
	if idx.IndexStatus != types.IndexStatusActive || aws.ToBool(idx.Backfilling) || len(idx.KeySchema) != 2 {
		return false
	}
	var hash, rng string
	for _, k := range idx.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			rng = aws.ToString(k.AttributeName)
		}
	}
	return hash == kclschema.AttrLeaseOwner && rng == kclschema.AttrLeaseKey
}
