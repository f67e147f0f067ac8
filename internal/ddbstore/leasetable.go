package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// errTableWaitTimeout is the cause of EnsureTable's own deadline, so that
// it can be told from the caller's context ending.
var errTableWaitTimeout = errors.New("table wait timeout")

const wantKeySchema = kclschema.AttrLeaseKey + " (S) HASH"

// EnsureTable implements Store. It creates the table when it is absent
// (a concurrent creator's ResourceInUseException is success), waits until
// the table is usable, checks its key schema, and asks for the owner index
// when the table lacks it (tables made by an older KCL). It does not wait
// for a new index to be built: until it is ACTIVE, ListKeysByOwner scans.
func (s *DynamoStore) EnsureTable(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, s.waitTimeout, errTableWaitTimeout)
	defer cancel()
	last := "unknown"
	delay := s.pollMin
	indexRefused := false
	for {
		desc, err := s.describe(ctx)
		switch {
		case err == nil:
			if err := checkKeySchema(s.table, desc); err != nil {
				return err
			}
			last = string(desc.TableStatus)
			switch desc.TableStatus {
			case types.TableStatusActive, types.TableStatusUpdating:
				// UPDATING tables take reads and writes; only another
				// schema change has to wait.
				done, err := s.ensureOwnerIndex(ctx, desc, &indexRefused)
				if err != nil || done {
					return err
				}
			case types.TableStatusCreating, types.TableStatusDeleting:
				// Wait: a table being deleted will be absent next time
				// and is then created again.
			default:
				return fmt.Errorf("shardwise/leases: table %q is %s and cannot be used", s.table, desc.TableStatus)
			}
		case awsapi.IsNotFound(err):
			last = "absent"
			if err := s.createTable(ctx); err != nil {
				return err
			}
		case ctx.Err() != nil:
			return s.waitError(ctx, last)
		default:
			return s.apiError("DescribeTable", err)
		}
		if err := pause(ctx, delay); err != nil {
			return s.waitError(ctx, last)
		}
		delay = min(2*delay, s.pollMax)
	}
}

func (s *DynamoStore) describe(ctx context.Context) (*types.TableDescription, error) {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return nil, err
	}
	if out.Table == nil {
		return nil, fmt.Errorf("shardwise/leases: dynamodb:DescribeTable on table %q returned no table", s.table)
	}
	return out.Table, nil
}

func (s *DynamoStore) waitError(ctx context.Context, last string) error {
	if errors.Is(context.Cause(ctx), errTableWaitTimeout) {
		return fmt.Errorf("shardwise/leases: table %q not usable after %v (last status %s): %w", s.table, s.waitTimeout, last, context.DeadlineExceeded)
	}
	return fmt.Errorf("shardwise/leases: waiting for table %q: %w", s.table, context.Cause(ctx))
}

// pause waits d or until ctx ends. EnsureTable polls because DynamoDB
// offers no notification of a table's status changing.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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

func (s *DynamoStore) createTable(ctx context.Context) error {
	_, err := s.client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(s.table),
		AttributeDefinitions: keyAttributeDefinitions(),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: types.KeyTypeHash},
		},
		BillingMode:           s.billing,
		ProvisionedThroughput: s.throughput(),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:             aws.String(kclschema.OwnerIndexName),
			KeySchema:             ownerIndexKeySchema(),
			Projection:            &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			ProvisionedThroughput: s.throughput(),
		}},
	})
	switch {
	case err == nil:
		s.log.Info().Str("billing_mode", string(s.billing)).Msg("created lease table")
		return nil
	case awsapi.IsResourceInUse(err):
		// Another worker created it first; its key schema is checked once
		// it can be described.
		return nil
	case ctx.Err() != nil:
		return s.waitError(ctx, "absent")
	}
	return s.apiError("CreateTable", err)
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
		return false, s.waitError(ctx, string(desc.TableStatus))
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

// checkKeySchema accepts exactly one HASH key, leaseKey of type S. Anything
// else is most likely another application's table, which must not be
// written to.
func checkKeySchema(table string, desc *types.TableDescription) error {
	attrTypes := make(map[string]types.ScalarAttributeType, len(desc.AttributeDefinitions))
	for _, d := range desc.AttributeDefinitions {
		attrTypes[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	var got []string
	for _, k := range desc.KeySchema {
		name := aws.ToString(k.AttributeName)
		typ := string(attrTypes[name])
		if typ == "" {
			typ = "?"
		}
		got = append(got, fmt.Sprintf("%s (%s) %s", name, typ, k.KeyType))
	}
	ks := desc.KeySchema
	if len(ks) == 1 && ks[0].KeyType == types.KeyTypeHash && aws.ToString(ks[0].AttributeName) == kclschema.AttrLeaseKey &&
		attrTypes[kclschema.AttrLeaseKey] == types.ScalarAttributeTypeS {
		return nil
	}
	gotS := strings.Join(got, ", ")
	if gotS == "" {
		gotS = "(none)"
	}
	return &leases.TableSchemaError{Table: table, Want: wantKeySchema, Got: gotS}
}
