package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/leases"
)

// emuHarness is a fresh stream on kinesis-local and a fresh lease table
// name on dynalite (the emulators are shared by every test of the run).
type emuHarness struct {
	t      *testing.T
	kc     *kinesis.Client
	dc     *dynamodb.Client
	stream string
	app    string
}

func newEmuHarness(t *testing.T, shards int) *emuHarness {
	t.Helper()
	env := emulator.Require(t)
	kinesisEndpoint := env.Kinesis
	if fanOutMode(t) {
		// kinesis-local never sends the event stream's initial-response,
		// which the SDK requires: the fan-out variants go through the
		// edge, which injects it (EMULATORS.md).
		if env.Edge == "" {
			t.Skipf("fan-out against kinesis-local needs the edge (%s unset); run `make test`", emulator.EnvEdge)
		}
		kinesisEndpoint = env.Edge
	}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e10, 36)
	h := &emuHarness{t: t, kc: emulator.KinesisClient(kinesisEndpoint), dc: emulator.DynamoDBClient(env.DynamoDB),
		stream: "e2e-" + suffix, app: "e2e-app-" + suffix}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := h.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(h.stream), ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(h.kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(h.stream)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *emuHarness) config(worker string) Config {
	return Config{
		ApplicationName:        h.app,
		StreamName:             h.stream,
		InitialPosition:        consumer.InitialPositionTrimHorizon,
		KinesisClient:          h.kc,
		DynamoDBClient:         h.dc,
		WorkerID:               worker,
		Logger:                 testLogger(h.t),
		IdleTimeBetweenReads:   100 * time.Millisecond,
		FailoverTime:           3 * time.Second,
		LeaseDiscoveryInterval: 500 * time.Millisecond,
		ParentPollInterval:     200 * time.Millisecond,
		ProcessorRetryBackoff:  20 * time.Millisecond,
		ShutdownTimeout:        20 * time.Second,
		FanOut:                 fanOutMode(h.t),
	}
}

// put writes n records over nKeys partition keys, payload "key:counter".
func (h *emuHarness) put(first, n, nKeys int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for sent := 0; sent < n; {
		m := min(500, n-sent)
		entries := make([]types.PutRecordsRequestEntry, m)
		for i := range entries {
			c := first + sent + i
			k := c % nKeys
			entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("key-" + strconv.Itoa(k)), Data: []byte(fmt.Sprintf("key-%d:%d", k, c))}
		}
		// PutRecords keeps the order of a key's records only within a
		// call; failed entries are retried in their original order.
		for len(entries) > 0 {
			out, err := h.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(h.stream), Records: entries})
			if err != nil {
				h.t.Fatal(err)
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					retry = append(retry, entries[i])
				}
			}
			if len(retry) > 0 {
				h.t.Fatalf("%d PutRecords entries failed; a retry would reorder keys", len(retry))
			}
			entries = retry
		}
		sent += m
	}
}

func (h *emuHarness) start(cfg Config, f consumer.ProcessorFactory) func() error {
	hh := &harness{t: h.t}
	return hh.start(cfg, f)
}

func TestEmulatorConsumeCheckpointRestart(t *testing.T) {
	bothModes(t, testEmulatorConsumeCheckpointRestart)
}

func testEmulatorConsumeCheckpointRestart(t *testing.T) {
	h := newEmuHarness(t, 4)
	h.put(0, 5000, 200)

	j := &journal{}
	stop := h.start(h.config("e2e-w1"), factoryOf(j, "e2e-w1", nil))
	waitFor(t, 3*time.Minute, "5,000 records", func() bool { return j.count() >= 5000 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	seen := checkOrder(t, ds)
	if len(ds) != 5000 || len(seen) != 5000 {
		t.Fatalf("delivered %d (%d distinct), want 5,000 exactly once", len(ds), len(seen))
	}
	shards := map[string]int{}
	for _, d := range ds {
		shards[d.shard]++
	}
	if len(shards) != 4 {
		t.Fatalf("records came from %d shards, want 4", len(shards))
	}

	// The leases are in DynamoDB, released, with checkpoints at each shard's
	// last record.
	st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: h.dc, TableName: h.app, BillingMode: "PAY_PER_REQUEST", TableWaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]consumer.ExtendedSequenceNumber{}
	for _, d := range ds {
		last[d.shard] = d.pos
	}
	for _, l := range all {
		if l.Owner != "" || l.Checkpoint != last[l.Key] {
			t.Errorf("lease %s: owner %q checkpoint %v, want released at %v", l.Key, l.Owner, l.Checkpoint, last[l.Key])
		}
	}

	h.put(5000, 1000, 200)
	j2 := &journal{}
	stop = h.start(h.config("e2e-w2"), factoryOf(j2, "e2e-w2", nil))
	waitFor(t, 2*time.Minute, "1,000 new records", func() bool { return j2.count() >= 1000 })
	// Old records precede the new ones in every shard, so a redelivery
	// would have been counted before the 1,000th new record arrived.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds2, _ := j2.snapshot()
	seen2 := checkOrder(t, ds2)
	if len(ds2) != 1000 || len(seen2) != 1000 {
		t.Fatalf("after restart delivered %d (%d distinct), want exactly the 1,000 new records", len(ds2), len(seen2))
	}
	for data := range seen2 {
		if seen[data] > 0 {
			t.Fatalf("record %q delivered again after the restart", data)
		}
	}
}

func TestEmulatorForeignLeaseTableSchema(t *testing.T) {
	h := newEmuHarness(t, 1)
	ctx := context.Background()
	table := h.app + "-foreign"
	_, err := h.dc.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeN}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.config("w1")
	cfg.LeaseTableName = table
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(ctx)
	var se *leases.TableSchemaError
	if !errors.As(err, &se) {
		t.Fatalf("Run on a foreign table: %v, want a *leases.TableSchemaError", err)
	}
	t.Logf("error: %v", err)
}

func TestEmulatorMissingStream(t *testing.T) {
	h := newEmuHarness(t, 1)
	cfg := h.config("w1")
	cfg.StreamName = h.stream + "-missing"
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"`+cfg.StreamName+`" does not exist`) {
		t.Fatalf("Run on a missing stream: %v", err)
	}
}
