package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/ddbstore"
)

// target names the application's tables and how to reach DynamoDB; every
// verb has these flags.
type target struct {
	app          string
	table        string // the lease table
	workersTable string
	coordTable   string
	endpoint     string
	region       string
	local        bool
	json         bool
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.table, "table", "", "lease table (default: the -app name)")
	fs.StringVar(&t.app, "app", "", "application name (default: the -table name); names the other tables")
	fs.StringVar(&t.workersTable, "workers-table", "", "worker-metrics table (default: APP-WorkerMetricStats)")
	fs.StringVar(&t.coordTable, "coordinator-table", "", "coordinator-state table (default: APP-CoordinatorState)")
	fs.StringVar(&t.endpoint, "endpoint", "", "DynamoDB endpoint URL (default: the AWS configuration's)")
	fs.StringVar(&t.region, "region", "", "AWS region (default: the AWS configuration's)")
	fs.BoolVar(&t.local, "local", false, "use the emulator endpoint in SHARDWISE_DYNAMODB_ENDPOINT")
	fs.BoolVar(&t.json, "json", false, "print JSON instead of tables")
}

// resolve fills in the defaults: a lease table is required (by -table or
// -app). The other tables are named as the scheduler names them.
func (t *target) resolve() error {
	if t.table == "" {
		t.table = t.app
	}
	if t.app == "" {
		t.app = t.table
	}
	if t.table == "" {
		return usagef("-table (or -app) is required")
	}
	if t.workersTable == "" {
		t.workersTable = t.app + "-WorkerMetricStats"
	}
	if t.coordTable == "" {
		t.coordTable = t.app + "-CoordinatorState"
	}
	return nil
}

// client builds the DynamoDB client.
func (t *target) client(ctx context.Context) (*dynamodb.Client, error) {
	endpoint := t.endpoint
	if t.local {
		endpoint = os.Getenv("SHARDWISE_DYNAMODB_ENDPOINT")
		if endpoint == "" {
			return nil, usagef("-local needs SHARDWISE_DYNAMODB_ENDPOINT (run under `go run ./internal/emulator/cmd/withemulators --`)")
		}
	}
	cfg, err := t.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// leaseStore is the lease table through internal/ddbstore, which owns the
// item format. No verb calls EnsureTable except import with -write.
func leaseStore(client awsapi.DynamoDB, table string) (*ddbstore.DynamoStore, error) {
	return ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: client, TableName: table, BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: time.Minute})
}

// errNoTable says a table does not exist.
var errNoTable = errors.New("table does not exist")

// scanAll reads every item of a table (consistent reads), or errNoTable.
func scanAll(ctx context.Context, client awsapi.DynamoDB, table string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		page, err := client.Scan(ctx, in)
		if err != nil {
			return nil, tableError(table, "Scan", err)
		}
		items = append(items, page.Items...)
		if len(page.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// tableError names the table and the call; a missing table is errNoTable.
func tableError(table, op string, err error) error {
	if awsapi.IsNotFound(err) {
		return fmt.Errorf("table %q: %w", table, errNoTable)
	}
	if awsapi.IsAccessDenied(err) {
		return fmt.Errorf("access denied: dynamodb:%s on table %q: %w", op, table, err)
	}
	return fmt.Errorf("dynamodb:%s on table %q: %w", op, table, err)
}

// requireTable fails with errNoTable if table is missing, so that "no
// such table" is never reported as "no such lease".
func requireTable(ctx context.Context, client awsapi.DynamoDB, table string) error {
	if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		return tableError(table, "DescribeTable", err)
	}
	return nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// str reads a string attribute ("" if absent or of another type).
func str(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// awsConfig is the AWS configuration of every client the command builds:
// with -local, dummy credentials for the emulators; otherwise the default
// configuration; -region overrides either.
func (t *target) awsConfig(ctx context.Context) (aws.Config, error) {
	var cfg aws.Config
	if t.local {
		cfg = aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSHARDWISELOCAL", "local", "")}
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return aws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
		}
	}
	if t.region != "" {
		cfg.Region = t.region
	}
	return cfg, nil
}
