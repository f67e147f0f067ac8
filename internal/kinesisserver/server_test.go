package kinesisserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/internal/fastdecode"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kpl"
)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dials counts the TCP connections a client opens.
type dials struct{ n atomic.Int32 }

func (d *dials) client(s *Server) *kinesis.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.n.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	// RequestBodyFix: without it, net/http closes a connection whenever
	// the SDK's request body races its write loop (see internal/fastdecode),
	// and connections are not reused.
	return kinesis.New(kinesis.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(s.URL), HTTPClient: &http.Client{Transport: tr}, RetryMaxAttempts: 1,
	}, fastdecode.RequestBodyFix)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func iteratorAt(t *testing.T, c *kinesis.Client, shard, typ, seq string) string {
	t.Helper()
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorType(typ)}
	if seq != "" {
		in.StartingSequenceNumber = aws.String(seq)
	}
	out, err := c.GetShardIterator(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ShardIterator)
}

func TestStreamThroughTheSDK(t *testing.T) {
	for _, mem := range []int64{0, 1} { // per-shard pages, then one shared page in pieces
		t.Run("", func(t *testing.T) {
			s := start(t, Config{Shards: 3, RecordsPerCall: 5, RecordSize: 100, MillisBehindLatest: 7, MaxPageMemory: mem})
			var d dials
			c := d.client(s)
			if _, err := c.DescribeStreamSummary(ctx(t), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("bench")}); err != nil {
				t.Fatal(err)
			}
			ls, err := c.ListShards(ctx(t), &kinesis.ListShardsInput{StreamName: aws.String("bench")})
			if err != nil {
				t.Fatal(err)
			}
			if len(ls.Shards) != 3 {
				t.Fatalf("%d shards, want 3", len(ls.Shards))
			}
			var ranges []hashkey.Range
			for _, sh := range ls.Shards {
				r, err := hashkey.ParseRange(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey))
				if err != nil {
					t.Fatal(err)
				}
				ranges = append(ranges, r)
			}
			if holes := hashkey.Holes(ranges); len(holes) != 0 {
				t.Fatalf("shard ranges leave holes: %v", holes)
			}

			it := iteratorAt(t, c, "shardId-000000000001", "TRIM_HORIZON", "")
			last := ""
			for call := range 6 {
				out, err := c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Records) != 5 || aws.ToInt64(out.MillisBehindLatest) != 7 {
					t.Fatalf("call %d: %d records, MillisBehindLatest %d", call, len(out.Records), aws.ToInt64(out.MillisBehindLatest))
				}
				for _, r := range out.Records {
					seq := aws.ToString(r.SequenceNumber)
					if last != "" && (len(seq) != len(last) || seq <= last) {
						t.Fatalf("call %d: sequence number %s does not follow %s", call, seq, last)
					}
					last = seq
					if len(r.Data) != 100 || aws.ToString(r.PartitionKey) == "" || r.ApproximateArrivalTimestamp == nil || r.EncryptionType != types.EncryptionTypeNone {
						t.Fatalf("call %d: bad record %+v", call, r)
					}
				}
				it = aws.ToString(out.NextShardIterator)
				if !strings.HasPrefix(it, "it-000001-") {
					t.Fatalf("next iterator %q is not shard 1's", it)
				}
			}
			if n := d.n.Load(); n != 1 {
				t.Fatalf("%d connections for sequential calls, want 1 (keep-alive)", n)
			}
			if st := s.Stats(); st.GetRecordsCalls != 6 || st.RecordsServed != 30 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestPageModesAgree: the per-shard copies and the shared page written in
// pieces send the same bytes.
func TestPageModesAgree(t *testing.T) {
	cfg := Config{Shards: 4, RecordsPerCall: 7, RecordSize: 300}
	a := start(t, cfg)
	cfg.MaxPageMemory = 1
	b := start(t, cfg)
	if a.shards == nil || b.shards != nil {
		t.Fatal("the two servers do not use the two page modes")
	}
	for _, it := range []string{iterator(0, 0), iterator(3, 12345678901234), iterator(2, 99)} {
		ba, bb := rawGetRecords(t, a, it), rawGetRecords(t, b, it)
		if !bytes.Equal(ba, bb) {
			t.Fatalf("iterator %s: pages differ", it)
		}
		if !bytes.Contains(ba, []byte(sequenceNumber(mustPage(t, it), 6))) {
			t.Fatalf("iterator %s: page lacks its last sequence number", it)
		}
	}
}

func mustPage(t *testing.T, it string) uint64 {
	_, p, ok := parseIterator(it)
	if !ok {
		t.Fatalf("bad iterator %q", it)
	}
	return p
}

func rawGetRecords(t *testing.T, s *Server, it string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx(t), "POST", s.URL, strings.NewReader(`{"ShardIterator":"`+it+`"}`))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, err %v", resp.StatusCode, err)
	}
	return b
}

func TestKPLAggregates(t *testing.T) {
	s := start(t, Config{Shards: 4, RecordsPerCall: 3, SubRecords: 100, SubRecordSize: 100})
	c := (&dials{}).client(s)
	for shard, r := range hashkey.Split(hashkey.Full, 4) {
		it := iteratorAt(t, c, s.Shards()[shard], "LATEST", "")
		out, err := c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range out.Records {
			// keep=r: a sub-record outside the shard's range would be
			// dropped, as a consumer drops a sibling's after a reshard.
			subs, err := kpl.Deaggregate(rec.Data, &r, nil)
			if err != nil || len(subs) != 100 {
				t.Fatalf("shard %d: %d sub-records in the shard's range, err %v", shard, len(subs), err)
			}
			for _, sub := range subs {
				if len(sub.Data) != 100 || sub.PartitionKey == "" {
					t.Fatalf("bad sub-record %+v", sub)
				}
			}
		}
	}
}

func TestLimitAndResume(t *testing.T) {
	s := start(t, Config{Shards: 2, RecordsPerCall: 10, RecordSize: 10})
	c := (&dials{}).client(s)
	it := iteratorAt(t, c, "shardId-000000000001", "TRIM_HORIZON", "")
	out, err := c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(3)})
	if err != nil || len(out.Records) != 3 {
		t.Fatalf("Limit 3: %v, %d records", err, len(out.Records))
	}
	out, err = c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	if err != nil || len(out.Records) != 10 {
		t.Fatalf("next page: %v", err)
	}
	mid := aws.ToString(out.Records[4].SequenceNumber)
	resumed := iteratorAt(t, c, "shardId-000000000001", "AT_SEQUENCE_NUMBER", mid)
	again, err := c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(resumed)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(again.Records[4].SequenceNumber); got != mid {
		t.Fatalf("resumed page holds %s at index 4, want %s", got, mid)
	}
}

func TestErrors(t *testing.T) {
	s := start(t, Config{})
	c := (&dials{}).client(s)
	_, err := c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: aws.String("nonsense")})
	var inv *types.InvalidArgumentException
	if !errors.As(err, &inv) {
		t.Fatalf("bad iterator: %v", err)
	}
	_, err = c.ListShards(ctx(t), &kinesis.ListShardsInput{StreamName: aws.String("other")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("other stream: %v", err)
	}
	_, err = c.GetShardIterator(ctx(t), &kinesis.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: aws.String("shardId-000000000009"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if !errors.As(err, &nf) {
		t.Fatalf("missing shard: %v", err)
	}
	_, err = c.PutRecord(ctx(t), &kinesis.PutRecordInput{StreamName: aws.String("bench"), PartitionKey: aws.String("k"), Data: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "UnknownOperationException") {
		t.Fatalf("PutRecord: %v", err)
	}
}

// TestConcurrentReaders: many goroutines on a few shards; every page must
// be whole (all its sequence numbers from one page, the iterator the next).
func TestConcurrentReaders(t *testing.T) {
	for _, mem := range []int64{0, 1} {
		s := start(t, Config{Shards: 2, RecordsPerCall: 20, RecordSize: 50, MaxPageMemory: mem})
		c := (&dials{}).client(s)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				shard := g % 2
				for call := range 25 {
					page := uint64(g*1000 + call)
					out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iterator(shard, page))})
					if err != nil {
						errs <- err
						return
					}
					for i, r := range out.Records {
						if aws.ToString(r.SequenceNumber) != sequenceNumber(page, i) {
							errs <- errors.New("torn page: " + aws.ToString(r.SequenceNumber))
							return
						}
					}
					if aws.ToString(out.NextShardIterator) != iterator(shard, page+1) {
						errs <- errors.New("wrong next iterator " + aws.ToString(out.NextShardIterator))
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{{Shards: -1}, {RecordsPerCall: -5}, {RecordSize: -1}} {
		if _, err := Start(cfg); err == nil {
			t.Errorf("Start(%+v) accepted a bad config", cfg)
		}
	}
}

func TestCloseStopsServing(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := (&dials{}).client(s)
	if _, err := c.ListShards(ctx(t), &kinesis.ListShardsInput{StreamName: aws.String("bench")}); err == nil {
		t.Fatal("a closed server answered")
	}
}
