// Package ddbtable is the one path by which Shardwise creates and waits for
// its DynamoDB tables (the lease table, the worker-metrics table and the
// coordinator-state table): create if absent, treat a concurrent creator as
// success, wait until the table is usable, refuse a table whose key schema
// is not the expected one, and let the caller check what else it needs of
// a usable table (the lease table's owner index).
package ddbtable

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/leases"
)

// Spec describes a table with a single hash key. It takes final values:
// every field is required unless it says otherwise.
type Spec struct {
	Table    string
	HashKey  string
	HashType types.ScalarAttributeType
	// BillingMode of a table Ensure creates; an existing table is left as
	// it is. With BillingModeProvisioned, ReadCapacity and WriteCapacity
	// are the capacity of the table and of its indexes.
	BillingMode                 types.BillingMode
	ReadCapacity, WriteCapacity int64
	// Attributes defines the attributes the indexes use, beyond the hash
	// key. Optional.
	Attributes []types.AttributeDefinition
	// Indexes are created with the table (their ProvisionedThroughput is
	// filled in). Optional.
	Indexes []types.GlobalSecondaryIndex
	// WaitTimeout bounds Ensure, including the wait for a new table.
	WaitTimeout time.Duration
	// PollMin and PollMax bound the interval between DescribeTable polls
	// (it doubles from PollMin).
	PollMin, PollMax time.Duration
	// Ready, if set, is called each time the table is seen usable; done
	// false makes Ensure describe the table again after a pause. Optional.
	Ready func(ctx context.Context, desc *types.TableDescription) (done bool, err error)
	// Logger receives the table's creation. Optional.
	Logger zerolog.Logger
}

// errWaitTimeout is the cause of Ensure's own deadline, so that it can be
// told from the caller's context ending.
var errWaitTimeout = errors.New("shardwise: table wait timeout")

// Ensure creates the table if it does not exist and waits until it is
// ACTIVE (or UPDATING, which takes reads and writes) and spec.Ready is
// done. Safe to call from many processes at once. A table with another key
// schema is a *leases.TableSchemaError.
func Ensure(ctx context.Context, c awsapi.DynamoDB, spec Spec) error {
	if spec.WaitTimeout <= 0 || spec.PollMin <= 0 || spec.PollMax < spec.PollMin || spec.BillingMode == "" {
		return fmt.Errorf("shardwise: table %q: ddbtable.Spec needs WaitTimeout, PollMin <= PollMax and BillingMode", spec.Table)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, spec.WaitTimeout, errWaitTimeout)
	defer cancel()
	last := "unknown"
	delay := spec.PollMin
	for {
		desc, err := describe(ctx, c, spec.Table)
		switch {
		case err == nil:
			if err := checkSchema(spec, desc); err != nil {
				return err
			}
			last = string(desc.TableStatus)
			switch desc.TableStatus {
			case types.TableStatusActive, types.TableStatusUpdating:
				// UPDATING tables take reads and writes; only another
				// schema change has to wait.
				if spec.Ready == nil {
					return nil
				}
				done, err := spec.Ready(ctx, desc)
				if err != nil || done {
					return err
				}
			case types.TableStatusCreating, types.TableStatusDeleting:
				// Wait: a table being deleted will be absent next time
				// and is then created again.
			default:
				return fmt.Errorf("shardwise: table %q is %s and cannot be used", spec.Table, desc.TableStatus)
			}
		case awsapi.IsNotFound(err):
			last = "absent"
			if err := create(ctx, c, spec); err != nil {
				if ctx.Err() != nil {
					return waitError(ctx, spec, last)
				}
				return err
			}
		case ctx.Err() != nil:
			return waitError(ctx, spec, last)
		default:
			return APIError("DescribeTable", spec.Table, err)
		}
		if err := pause(ctx, delay); err != nil {
			return waitError(ctx, spec, last)
		}
		delay = min(2*delay, spec.PollMax)
	}
}

// describe reads the table's description.
func describe(ctx context.Context, c awsapi.DynamoDB, table string) (*types.TableDescription, error) {
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, err
	}
	if out.Table == nil {
		return nil, fmt.Errorf("shardwise: dynamodb:DescribeTable on table %q returned no table", table)
	}
	return out.Table, nil
}

func waitError(ctx context.Context, spec Spec, last string) error {
	if errors.Is(context.Cause(ctx), errWaitTimeout) {
		return fmt.Errorf("shardwise: table %q not usable after %v (last status %s): %w", spec.Table, spec.WaitTimeout, last, context.DeadlineExceeded)
	}
	return fmt.Errorf("shardwise: waiting for table %q: %w", spec.Table, context.Cause(ctx))
}

// pause waits d or until ctx ends. Ensure polls because DynamoDB offers no
// notification of a table's status changing.
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

// Throughput is the provisioned capacity of a table or index in spec, nil
// unless it is provisioned.
func (spec Spec) Throughput() *types.ProvisionedThroughput {
	if spec.BillingMode != types.BillingModeProvisioned {
		return nil
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(spec.ReadCapacity), WriteCapacityUnits: aws.Int64(spec.WriteCapacity)}
}

func create(ctx context.Context, c awsapi.DynamoDB, spec Spec) error {
	attrs := append([]types.AttributeDefinition{{AttributeName: aws.String(spec.HashKey), AttributeType: spec.HashType}}, spec.Attributes...)
	var indexes []types.GlobalSecondaryIndex
	for _, gsi := range spec.Indexes {
		gsi.ProvisionedThroughput = spec.Throughput()
		indexes = append(indexes, gsi)
	}
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:              aws.String(spec.Table),
		AttributeDefinitions:   attrs,
		KeySchema:              []types.KeySchemaElement{{AttributeName: aws.String(spec.HashKey), KeyType: types.KeyTypeHash}},
		BillingMode:            spec.BillingMode,
		ProvisionedThroughput:  spec.Throughput(),
		GlobalSecondaryIndexes: indexes,
	})
	switch {
	case err == nil:
		spec.Logger.Info().Str("table", spec.Table).Str("billing_mode", string(spec.BillingMode)).Msg("created table")
		return nil
	case awsapi.IsResourceInUse(err):
		// Another worker created it first; its key schema is checked once
		// it can be described.
		return nil
	}
	return APIError("CreateTable", spec.Table, err)
}

// checkSchema accepts exactly one HASH key, spec's. Anything else is most
// likely another application's table, which must not be written to.
func checkSchema(spec Spec, desc *types.TableDescription) error {
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
	if len(ks) == 1 && ks[0].KeyType == types.KeyTypeHash && aws.ToString(ks[0].AttributeName) == spec.HashKey &&
		attrTypes[spec.HashKey] == spec.HashType {
		return nil
	}
	gotS := strings.Join(got, ", ")
	if gotS == "" {
		gotS = "(none)"
	}
	return &leases.TableSchemaError{Table: spec.Table, Want: fmt.Sprintf("%s (%s) HASH", spec.HashKey, spec.HashType), Got: gotS}
}

// APIError wraps an error from DynamoDB with the operation and the table,
// so that a missing permission says what to grant on what.
func APIError(op, table string, err error) error {
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("shardwise: not allowed to call dynamodb:%s on table %q: %w", op, table, err)
	}
	return fmt.Errorf("shardwise: dynamodb:%s on table %q: %w", op, table, err)
}
