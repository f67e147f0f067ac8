package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/leakcheck"
	"github.com/shardwise/shardwise/leases"
)

func TestMain(m *testing.M) { leakcheck.Main(m, 5*time.Second) }

// fixture is an application's three tables on the DynamoDB emulator.
type fixture struct {
	client *dynamodb.Client
	app    string
	leases *ddbstore.DynamoStore
	tables tables
}

var tableSeq int

// uniqueName is a table name no other test (or earlier run) uses.
func uniqueName(prefix string) string {
	tableSeq++
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36) + "-" + strconv.Itoa(tableSeq)
}

// newFixture creates the three tables of a new application; it skips
// the test without the DynamoDB emulator.
func newFixture(t *testing.T, prefix string) *fixture {
	t.Helper()
	env := emulator.RequireDynamoDB(t)
	client := emulator.DynamoDBClient(env.DynamoDB)
	ctx := context.Background()
	app := uniqueName(prefix)
	tg := &target{table: app}
	if err := tg.resolve(); err != nil {
		t.Fatal(err)
	}
	st, err := leaseStore(client, app)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := openTables(client, tg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ensure := range []func(context.Context) error{st.EnsureTable, tb.workers.EnsureTable, tb.coordinator.EnsureTable} {
		if err := ensure(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{client: client, app: app, leases: st, tables: tb}
}

// putItem writes a raw item, as another library would.
func putItem(t *testing.T, client *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// createTable creates a table with a hash key (and a range key if range
// is not empty), all strings, as a peer library creates its own.
func createTable(t *testing.T, client *dynamodb.Client, table, hash, rangeKey string) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:             aws.String(table),
		AttributeDefinitions:  []types.AttributeDefinition{{AttributeName: aws.String(hash), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}},
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(10), WriteCapacityUnits: aws.Int64(10)},
	}
	if rangeKey != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(rangeKey), AttributeType: types.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(rangeKey), KeyType: types.KeyTypeRange})
	}
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatal(err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// cli runs the command as main does, against the emulator (-local).
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && len(args) > 1 {
		args = append([]string{args[0], "-local"}, args[1:]...)
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// row returns the line of text that starts with prefix, its fields
// joined by single spaces ("" if none).
func row(text, prefix string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), prefix) {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}

func workerRec(id string) leases.WorkerRecord {
	return leases.WorkerRecord{ID: id, SessionID: "s-" + id}
}
