// Package emulator starts and describes the local Kinesis and DynamoDB
// emulators that Shardwise's integration tests and demo run against. Every
// server listens on 127.0.0.1 only.
package emulator

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Environment variables through which a running set of emulators is handed
// to tests and programs (set by `make test` and `make demo`).
const (
	EnvKinesis    = "SHARDWISE_KINESIS_ENDPOINT"    // kinesis-local (kinesis-mock)
	EnvDynamoDB   = "SHARDWISE_DYNAMODB_ENDPOINT"   // dynalite
	EnvKinesalite = "SHARDWISE_KINESALITE_ENDPOINT" // kinesalite (optional)
	EnvEdge       = "SHARDWISE_EDGE_ENDPOINT"       // an Edge: both behind one port, as LocalStack serves them
)

// Region the emulators are addressed in. kinesis-local keeps streams per
// region and account, so every client must use the same one.
const Region = "us-east-1"

// Env holds the endpoints of running emulators ("" when not running).
type Env struct {
	Kinesis    string
	DynamoDB   string
	Kinesalite string
	Edge       string
}

// FromEnviron reads the endpoints from the environment.
func FromEnviron() Env {
	return Env{
		Kinesis:    os.Getenv(EnvKinesis),
		DynamoDB:   os.Getenv(EnvDynamoDB),
		Kinesalite: os.Getenv(EnvKinesalite),
		Edge:       os.Getenv(EnvEdge),
	}
}

// Require returns the running emulators' endpoints, or skips the test with
// a message naming the command that starts them.
func Require(t testing.TB) Env {
	t.Helper()
	e := FromEnviron()
	if e.Kinesis == "" || e.DynamoDB == "" {
		t.Skipf("integration test skipped: no emulators (%s, %s unset); run `make test`, which starts them", EnvKinesis, EnvDynamoDB)
	}
	return e
}

// RequireDynamoDB is Require for tests that need only the DynamoDB
// emulator.
func RequireDynamoDB(t testing.TB) Env {
	t.Helper()
	e := FromEnviron()
	if e.DynamoDB == "" {
		t.Skipf("integration test skipped: no DynamoDB emulator (%s unset); run `make test`, which starts it", EnvDynamoDB)
	}
	return e
}

// AWSConfig is an aws.Config for the emulators: fixed region, static fake
// credentials (the emulators accept any SigV4 signature).
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSHARDWISELOCAL", "shardwise-local-secret", ""),
		// Emulators are local: one retry budget is plenty and keeps tests fast.
		RetryMaxAttempts: 5,
	}
}

// KinesisClient returns a client for the Kinesis emulator at endpoint.
func KinesisClient(endpoint string) *kinesis.Client {
	return kinesis.NewFromConfig(AWSConfig(), func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// DynamoDBClient returns a client for the DynamoDB emulator at endpoint.
func DynamoDBClient(endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}
