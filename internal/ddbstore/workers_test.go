package ddbstore

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

func TestDynamoWorkerStore(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	storesuite.Workers(t, func(t *testing.T) leases.WorkerStore {
		st, err := NewDynamoWorkerStore(client, "workers-"+strconv.FormatInt(time.Now().UnixNano(), 36), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestDynamoWorkerStoreFormatAndForeignSchema(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	ctx := context.Background()
	table := "workers-fmt-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	st, _ := NewDynamoWorkerStore(client, table, time.Minute)
	if err := st.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s", Stats: map[string][]float64{kclschema.MetricCPU: {1, 2}}, OperatingRange: map[string][]float64{kclschema.MetricCPU: {100}}}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"wid": &types.AttributeValueMemberS{Value: "w1"}}})
	if err != nil {
		t.Fatal(err)
	}
	// KCL's attribute names and types.
	if _, ok := out.Item["lut"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("lut is %T", out.Item["lut"])
	}
	sts, ok := out.Item["sts"].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("sts is %T", out.Item["sts"])
	}
	if l, ok := sts.Value["C"].(*types.AttributeValueMemberL); !ok || len(l.Value) != 2 {
		t.Errorf("sts.C is %#v", sts.Value["C"])
	}
	if _, ok := out.Item["opr"].(*types.AttributeValueMemberM); !ok {
		t.Errorf("opr is %T", out.Item["opr"])
	}
	// A table with another key schema is refused.
	foreign := table + "-foreign"
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(foreign),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	fst, _ := NewDynamoWorkerStore(client, foreign, time.Minute)
	var se *leases.TableSchemaError
	if err := fst.EnsureTable(ctx); !errors.As(err, &se) {
		t.Fatalf("foreign table: %v", err)
	}
}
