package kinesistest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// manualClock is a test clock that moves only when told to.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock {
	return &manualClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestFake returns a Fake on a manual clock with the call-rate limits
// off, for tests that are not about throttling.
// cfg, if given, sets the other fields.
func newTestFake(t *testing.T, cfg ...Config) (*Fake, *manualClock) {
	t.Helper()
	clk := newManualClock()
	var c Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Now, c.GetRecordsPerSecond, c.GetShardIteratorPerSecond = clk.Now, -1, -1
	return mustNew(t, c), clk
}

// mustNew is New for a cfg the test knows to be valid.
func mustNew(t *testing.T, cfg Config) *Fake {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return f
}

func mustCreate(t *testing.T, f *Fake, name string, shards int) {
	t.Helper()
	if err := f.CreateStream(name, shards); err != nil {
		t.Fatalf("CreateStream(%q, %d): %v", name, shards, err)
	}
}

func mustPut(t *testing.T, f *Fake, stream, pk string, data []byte) (string, string) {
	t.Helper()
	sh, seq, err := f.PutRecord(stream, pk, data)
	if err != nil {
		t.Fatalf("PutRecord(%q, %q): %v", stream, pk, err)
	}
	return sh, seq
}

func mustIterator(t *testing.T, f *Fake, in *kinesis.GetShardIteratorInput) string {
	t.Helper()
	out, err := f.GetShardIterator(context.Background(), in)
	if err != nil {
		t.Fatalf("GetShardIterator(%s %s): %v", aws.ToString(in.ShardId), in.ShardIteratorType, err)
	}
	return aws.ToString(out.ShardIterator)
}

func iterIn(stream, shard string, typ types.ShardIteratorType) *kinesis.GetShardIteratorInput {
	return &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: typ}
}

// readToEnd reads a shard from the iterator until GetRecords returns no
// next iterator or an empty page, and returns the records and the last
// response.
func readToEnd(t *testing.T, f *Fake, iter string, limit int32) ([]types.Record, *kinesis.GetRecordsOutput) {
	t.Helper()
	var recs []types.Record
	for range 10000 {
		in := &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		out, err := f.GetRecords(context.Background(), in)
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil || len(out.Records) == 0 {
			return recs, out
		}
		iter = *out.NextShardIterator
	}
	t.Fatal("readToEnd: no end after 10000 pages")
	return nil, nil
}

func listAll(t *testing.T, f *Fake, in *kinesis.ListShardsInput) []types.Shard {
	t.Helper()
	var all []types.Shard
	for range 1000 {
		out, err := f.ListShards(context.Background(), in)
		if err != nil {
			t.Fatalf("ListShards: %v", err)
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil {
			return all
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: in.MaxResults}
	}
	t.Fatal("listAll: no last page after 1000 pages")
	return nil
}

func shardIDs(shards []types.Shard) []string {
	ids := make([]string, len(shards))
	for i, s := range shards {
		ids[i] = aws.ToString(s.ShardId)
	}
	return ids
}

func seqs(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = aws.ToString(r.SequenceNumber)
	}
	return out
}

func datas(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}
