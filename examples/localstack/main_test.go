package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/emulator"
)

// TestRunsThroughOneEdgeEndpoint runs the program as a user runs it against
// LocalStack: one endpoint for every service. Here that endpoint is an
// emulator.Edge forwarding to kinesis-local and dynalite by X-Amz-Target
// (as LocalStack's edge routes to kinesis-mock and DynamoDB Local), and
// taking CloudWatch's PutMetricData.
func TestRunsThroughOneEdgeEndpoint(t *testing.T) {
	env := emulator.Require(t)
	edge, err := emulator.StartEdge(env)
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	// Under withemulators these point the SDK straight at the emulators
	// and would win over the program's endpoint; a LocalStack user has none
	// of them.
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_PROFILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}

	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	o := options{
		Endpoint: edge.URL(),
		Region:   emulator.Region,
		Stream:   "localstack-" + suffix,
		App:      "localstack-app-" + suffix,
		Shards:   2,
		Records:  300,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := run(ctx, o, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
	if err != nil {
		t.Fatalf("run: %v (result %+v)", err, res)
	}
	if res.Produced != o.Records || res.Processed != o.Records {
		t.Errorf("produced %d, processed %d, want %d each", res.Produced, res.Processed, o.Records)
	}
	if len(res.LastSeq) != o.Shards {
		t.Errorf("records went to %d shards, want %d", len(res.LastSeq), o.Shards)
	}
	if !res.MetricsOK {
		t.Error("the CloudWatch publisher did not deliver everything")
	}

	// The lease table, read straight from dynalite: each shard's
	// checkpoint is its last record.
	st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: emulator.DynamoDBClient(env.DynamoDB), TableName: o.App, BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != o.Shards {
		t.Errorf("%d leases, want %d", len(all), o.Shards)
	}
	for _, l := range all {
		if want := res.LastSeq[l.Key]; l.Checkpoint.SequenceNumber != want {
			t.Errorf("lease %s: checkpoint %s, want the shard's last record %s", l.Key, l.Checkpoint, want)
		}
	}

	// Every service went through the one endpoint, and nothing asked for
	// one the edge does not serve.
	s := edge.Stats()
	if s.Kinesis == 0 || s.DynamoDB == 0 || s.PutMetricData == 0 || s.Unrouted != 0 {
		t.Errorf("edge traffic %+v: want Kinesis, DynamoDB and PutMetricData calls and no unrouted ones", s)
	}
}

// TestREADMEShowsThisConfig keeps the README's LocalStack snippet the
// configuration this program (and the test above) uses.
func TestREADMEShowsThisConfig(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "\treturn config.LoadDefaultConfig(ctx,\n"
	i := strings.Index(string(src), start)
	j := strings.Index(string(src)[i:], "\t)\n")
	if i < 0 || j < 0 {
		t.Fatal("main.go has no config.LoadDefaultConfig call")
	}
	call := strings.ReplaceAll(string(src)[i+len("\treturn "):i+j+len("\t)\n")], "\n\t", "\n")
	snippet := "awsCfg, err := " + call
	if !strings.Contains(string(readme), snippet) {
		t.Fatalf("README.md's LocalStack section lacks this program's configuration:\n%s", snippet)
	}
}
