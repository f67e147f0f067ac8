// Package ddbtable creates DynamoDB tables idempotently: create if absent,
// treat a concurrent creator as success, wait until the table is usable,
// and refuse a table whose key schema is not the expected one.
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

	"github.com/shardwise/shardwise/internal/awsapi"
)

// Spec describes a table with a single string-or-number hash key.
type Spec struct {
	Table    string
	HashKey  string
	HashType types.ScalarAttributeType
	// Provisioned capacity; zero means PAY_PER_REQUEST.
	ReadCapacity, WriteCapacity int64
	// WaitTimeout bounds the wait for the table to become usable.
	// Default 2 minutes.
	WaitTimeout time.Duration
}

// SchemaError reports an existing table with another key schema.
type SchemaError struct {
	Table, Want, Got string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("shardwise: table %q has key schema %s, want %s (is it another application's table?)", e.Table, e.Got, e.Want)
}

// Ensure creates the table if it does not exist and waits until it is
// ACTIVE (or UPDATING, which takes reads and writes). Safe to call from
// many processes at once.
func Ensure(ctx context.Context, c awsapi.DynamoDB, spec Spec) error {
	wait := spec.WaitTimeout
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	delay := 20 * time.Millisecond
	state := "unknown"
	for {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(spec.Table)})
		switch {
		case err == nil && out.Table != nil:
			if err := checkSchema(spec, out.Table); err != nil {
				return err
			}
			state = string(out.Table.TableStatus)
			switch out.Table.TableStatus {
			case types.TableStatusActive, types.TableStatusUpdating:
				return nil
			case types.TableStatusCreating, types.TableStatusDeleting:
			default:
				return fmt.Errorf("shardwise: table %q is %s and cannot be used", spec.Table, out.Table.TableStatus)
			}
		case err == nil:
			return fmt.Errorf("shardwise: dynamodb:DescribeTable on %q returned no table", spec.Table)
		case awsapi.IsNotFound(err):
			state = "absent"
			if err := create(ctx, c, spec); err != nil {
				return err
			}
		case ctx.Err() != nil:
			return fmt.Errorf("shardwise: table %q not usable after %v (last state %s): %w", spec.Table, wait, state, ctx.Err())
		default:
			return apiError("DescribeTable", spec.Table, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("shardwise: table %q not usable after %v (last state %s): %w", spec.Table, wait, state, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

func create(ctx context.Context, c awsapi.DynamoDB, spec Spec) error {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(spec.Table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(spec.HashKey), AttributeType: spec.HashType}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(spec.HashKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}
	if spec.ReadCapacity > 0 || spec.WriteCapacity > 0 {
		in.BillingMode = types.BillingModeProvisioned
		in.ProvisionedThroughput = &types.ProvisionedThroughput{
			ReadCapacityUnits:  aws.Int64(max(spec.ReadCapacity, 1)),
			WriteCapacityUnits: aws.Int64(max(spec.WriteCapacity, 1)),
		}
	}
	_, err := c.CreateTable(ctx, in)
	if err == nil || awsapi.IsResourceInUse(err) {
		// Someone else creating it at the same time is just as good.
		return nil
	}
	return apiError("CreateTable", spec.Table, err)
}

func checkSchema(spec Spec, t *types.TableDescription) error {
	types := map[string]string{}
	for _, d := range t.AttributeDefinitions {
		types[aws.ToString(d.AttributeName)] = string(d.AttributeType)
	}
	var got []string
	ok := len(t.KeySchema) == 1
	for _, k := range t.KeySchema {
		name := aws.ToString(k.AttributeName)
		got = append(got, fmt.Sprintf("%s (%s) %s", name, types[name], k.KeyType))
		if k.KeyType != "HASH" || name != spec.HashKey || types[name] != string(spec.HashType) {
			ok = false
		}
	}
	if ok {
		return nil
	}
	return &SchemaError{Table: spec.Table, Want: fmt.Sprintf("%s (%s) HASH", spec.HashKey, spec.HashType), Got: strings.Join(got, ", ")}
}

func apiError(op, table string, err error) error {
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("shardwise: not allowed to call dynamodb:%s on table %q: %w", op, table, err)
	}
	return fmt.Errorf("shardwise: dynamodb:%s on table %q: %w", op, table, err)
}

// ErrSchema matches every *SchemaError with errors.Is.
var ErrSchema = errors.New("shardwise: table has a foreign key schema")

// Is makes errors.Is(err, ErrSchema) true for a SchemaError.
func (e *SchemaError) Is(target error) bool { return target == ErrSchema }
