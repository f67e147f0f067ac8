package scheduler

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// javaFleetTables is a DynamoDB with the three tables of an application a
// Java KCL fleet runs on (its worker-metrics row freshly updated) that
// answers DescribeTable and Scan; every write is refused and recorded, so
// a test sees whether a worker wrote anything before it refused.
type javaFleetTables struct {
	awsapi.DynamoDB // nil: a call not implemented here panics
	app             string
	lut             int64
	mu              sync.Mutex
	writes          []string
}

func (f *javaFleetTables) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	name := aws.ToString(in.TableName)
	key := kclschema.AttrLeaseKey
	switch name {
	case f.app + "-WorkerMetricStats":
		key = kclschema.AttrWorkerID
	case f.app + "-CoordinatorState":
		key = kclschema.AttrCoordKey
	}
	desc := &ddbtypes.TableDescription{
		TableName: aws.String(name), TableStatus: ddbtypes.TableStatusActive,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(key), KeyType: ddbtypes.KeyTypeHash}},
		BillingModeSummary:   &ddbtypes.BillingModeSummary{BillingMode: ddbtypes.BillingModePayPerRequest},
	}
	if name == f.app {
		desc.GlobalSecondaryIndexes = []ddbtypes.GlobalSecondaryIndexDescription{{
			IndexName: aws.String(kclschema.OwnerIndexName), IndexStatus: ddbtypes.IndexStatusActive,
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String(kclschema.AttrLeaseOwner), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: ddbtypes.KeyTypeRange},
			},
		}}
	}
	return &dynamodb.DescribeTableOutput{Table: desc}, nil
}

func (f *javaFleetTables) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	var items []map[string]ddbtypes.AttributeValue
	switch aws.ToString(in.TableName) {
	case f.app + "-WorkerMetricStats":
		items = append(items, map[string]ddbtypes.AttributeValue{"wid": s("java-w1"), "lut": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(f.lut, 10)}})
	case f.app + "-CoordinatorState":
		items = append(items, map[string]ddbtypes.AttributeValue{"key": s("Leader"), "ownerName": s("java-w1"), "leaseDuration": s("120000"), "recordVersionNumber": s("r1")})
	case f.app:
		items = append(items, map[string]ddbtypes.AttributeValue{"leaseKey": s("shardId-000000000000"), "leaseOwner": s("java-w1"),
			"leaseCounter": &ddbtypes.AttributeValueMemberN{Value: "7"}, "checkpoint": s("TRIM_HORIZON")})
	}
	out := &dynamodb.ScanOutput{}
	for _, it := range items {
		out.Items = append(out.Items, maps.Clone(it))
	}
	return out, nil
}

func (f *javaFleetTables) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}

func (f *javaFleetTables) refuse(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, op)
	return context.Canceled
}

func (f *javaFleetTables) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, f.refuse("PutItem")
}

func (f *javaFleetTables) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, f.refuse("UpdateItem")
}

func (f *javaFleetTables) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, f.refuse("DeleteItem")
}

func (f *javaFleetTables) written() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// TestRunRefusesALiveJavaFleetBeforeAnyWrite: a worker started on tables a
// Java KCL fleet is running on (a worker-metrics row updated seconds ago)
// returns an error saying what it saw and what to do, before it creates,
// takes or registers anything.
func TestRunRefusesALiveJavaFleetBeforeAnyWrite(t *testing.T) {
	h := newHarness(t, 1)
	ddb := &javaFleetTables{app: "java-app", lut: time.Now().Add(-5 * time.Second).Unix()}
	cfg := h.config("sw-1")
	cfg.ApplicationName = "java-app"
	cfg.Stores.Leases, cfg.Stores.Workers, cfg.Stores.Coordinator = nil, nil, nil
	cfg.DynamoDBClient = ddb
	cfg.JavaFleetCheckWindow = 200 * time.Millisecond
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "Java KCL fleet is still running") || !strings.Contains(err.Error(), `"java-w1"`) ||
		!strings.Contains(err.Error(), "AllowLiveJavaFleet") {
		t.Fatalf("Run on a live Java fleet's tables: %v", err)
	}
	if w := ddb.written(); len(w) != 0 {
		t.Fatalf("wrote %v before refusing", w)
	}
	t.Logf("error: %v", err)

	// The override starts the worker: its first writes (creating the
	// missing leases, registering) reach the table.
	cfg.AllowLiveJavaFleet = true
	s, err = New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = s.Run(runCtx) // fails: this table refuses every write
	if len(ddb.written()) == 0 {
		t.Fatal("with AllowLiveJavaFleet the worker never got as far as writing")
	}
}
