package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/awsapi"
)

// oneShardWithRecords makes stream "s" with one shard holding records
// "r0".."r4", one per second, and returns their sequence numbers and
// arrival times.
func oneShardWithRecords(t *testing.T) (*Fake, *manualClock, []string, []time.Time) {
	t.Helper()
	f, clk := newTestFake(t)
	mustCreate(t, f, "s", 1)
	var seq []string
	var at []time.Time
	for i := range 5 {
		clk.Advance(time.Second)
		_, sq := mustPut(t, f, "s", "k", fmt.Appendf(nil, "r%d", i))
		seq = append(seq, sq)
		at = append(at, clk.Now())
	}
	return f, clk, seq, at
}

func TestIteratorTypes(t *testing.T) {
	f, clk, seq, at := oneShardWithRecords(t)
	sh := id(0)
	tests := []struct {
		name string
		in   *kinesis.GetShardIteratorInput
		want []string
	}{
		{"TRIM_HORIZON", iterIn("s", sh, types.ShardIteratorTypeTrimHorizon), []string{"r0", "r1", "r2", "r3", "r4"}},
		{"LATEST", iterIn("s", sh, types.ShardIteratorTypeLatest), nil},
		{"AT_SEQUENCE_NUMBER", withSeq(iterIn("s", sh, types.ShardIteratorTypeAtSequenceNumber), seq[2]), []string{"r2", "r3", "r4"}},
		{"AFTER_SEQUENCE_NUMBER", withSeq(iterIn("s", sh, types.ShardIteratorTypeAfterSequenceNumber), seq[2]), []string{"r3", "r4"}},
		{"AFTER_SEQUENCE_NUMBER last", withSeq(iterIn("s", sh, types.ShardIteratorTypeAfterSequenceNumber), seq[4]), nil},
		{"AT_TIMESTAMP exact", withTime(iterIn("s", sh, types.ShardIteratorTypeAtTimestamp), at[1]), []string{"r1", "r2", "r3", "r4"}},
		{"AT_TIMESTAMP between", withTime(iterIn("s", sh, types.ShardIteratorTypeAtTimestamp), at[1].Add(time.Millisecond)), []string{"r2", "r3", "r4"}},
		{"AT_TIMESTAMP before all", withTime(iterIn("s", sh, types.ShardIteratorTypeAtTimestamp), at[0].Add(-time.Hour)), []string{"r0", "r1", "r2", "r3", "r4"}},
		{"AT_TIMESTAMP after all", withTime(iterIn("s", sh, types.ShardIteratorTypeAtTimestamp), at[4].Add(time.Millisecond)), nil},
		{"by StreamARN", &kinesis.GetShardIteratorInput{StreamARN: aws.String(f.arn("s")), ShardId: aws.String(sh), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}, []string{"r0", "r1", "r2", "r3", "r4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := readToEnd(t, f, mustIterator(t, f, tc.in), 0)
			if got := datas(recs); !slices.Equal(got, tc.want) {
				t.Errorf("read %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("LATEST sees only later records", func(t *testing.T) {
		iter := mustIterator(t, f, iterIn("s", sh, types.ShardIteratorTypeLatest))
		mustPut(t, f, "s", "k", []byte("new"))
		recs, _ := readToEnd(t, f, iter, 0)
		if got := datas(recs); !slices.Equal(got, []string{"new"}) {
			t.Errorf("read %v, want [new]", got)
		}
	})
	t.Run("AT_TIMESTAMP in the future skips records put before it", func(t *testing.T) {
		future := clk.Now().Add(time.Minute)
		iter := mustIterator(t, f, withTime(iterIn("s", sh, types.ShardIteratorTypeAtTimestamp), future))
		mustPut(t, f, "s", "k", []byte("too-early"))
		out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 0 {
			t.Fatalf("read %v before the timestamp", datas(out.Records))
		}
		clk.Advance(time.Minute)
		mustPut(t, f, "s", "k", []byte("on-time"))
		recs, _ := readToEnd(t, f, *out.NextShardIterator, 0)
		if got := datas(recs); !slices.Equal(got, []string{"on-time"}) {
			t.Errorf("read %v, want [on-time]", got)
		}
	})
}

func withSeq(in *kinesis.GetShardIteratorInput, s string) *kinesis.GetShardIteratorInput {
	in.StartingSequenceNumber = aws.String(s)
	return in
}

func withTime(in *kinesis.GetShardIteratorInput, ts time.Time) *kinesis.GetShardIteratorInput {
	in.Timestamp = &ts
	return in
}

func TestGetShardIteratorErrors(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 2)
	mustCreate(t, f, "other", 1)
	var seqShard, seqOther string
	for i := 0; seqShard == "" || seqOther == ""; i++ {
		sh, sq := mustPut(t, f, "s", fmt.Sprint(i), []byte("x"))
		if sh == id(1) {
			seqShard = sq
		}
		_, seqOther = mustPut(t, f, "other", "k", []byte("x"))
	}
	tests := []struct {
		name string
		in   *kinesis.GetShardIteratorInput
		code string
	}{
		{"unknown shard", iterIn("s", "shardId-000000000099", types.ShardIteratorTypeTrimHorizon), "ResourceNotFoundException"},
		{"unknown stream", iterIn("nope", id(0), types.ShardIteratorTypeTrimHorizon), "ResourceNotFoundException"},
		{"unknown type", iterIn("s", id(0), "AT_NOON"), "InvalidArgumentException"},
		{"sequence number missing", iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), "InvalidArgumentException"},
		{"sequence number not a number", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), "abc"), "InvalidArgumentException"},
		{"sequence number from another shard", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), seqShard), "InvalidArgumentException"},
		{"sequence number from another stream", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAfterSequenceNumber), seqOther), "InvalidArgumentException"},
		{"sequence number not ours", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), "12345"), "InvalidArgumentException"},
		{"sequence number from the future", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), formatSeq(1<<40, 1, 0)), "InvalidArgumentException"},
		{"timestamp missing", iterIn("s", id(0), types.ShardIteratorTypeAtTimestamp), "InvalidArgumentException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.GetShardIterator(context.Background(), tc.in)
			if got := awsapi.ErrorCode(err); got != tc.code {
				t.Errorf("err = %v, want %s", err, tc.code)
			}
		})
	}
	t.Run("required members fail client-side", func(t *testing.T) {
		_, err := f.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String("s")})
		var ip smithy.InvalidParamsError
		if !errors.As(err, &ip) || ip.Len() != 2 {
			t.Errorf("err = %v, want smithy.InvalidParamsError with 2 fields", err)
		}
		_, err = f.GetRecords(context.Background(), &kinesis.GetRecordsInput{})
		if !errors.As(err, &ip) {
			t.Errorf("GetRecords without iterator: err = %v, want smithy.InvalidParamsError", err)
		}
	})
}

func TestGetRecordsPaging(t *testing.T) {
	f, clk := newTestFake(t)
	mustCreate(t, f, "s", 1)
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("r%02d", i))
		mustPut(t, f, "s", "k", []byte(want[i]))
		clk.Advance(time.Second)
	}
	clk.Advance(time.Minute)

	iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	var got []string
	var pageSizes []int
	var behind []int64
	for {
		out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(10)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) == 0 {
			if aws.ToInt64(out.MillisBehindLatest) != 0 {
				t.Errorf("caught up but MillisBehindLatest = %d", aws.ToInt64(out.MillisBehindLatest))
			}
			break
		}
		pageSizes = append(pageSizes, len(out.Records))
		behind = append(behind, aws.ToInt64(out.MillisBehindLatest))
		got = append(got, datas(out.Records)...)
		if out.NextShardIterator == nil {
			t.Fatal("open shard returned no NextShardIterator")
		}
		if *out.NextShardIterator == iter {
			t.Fatal("NextShardIterator is the same string as the request's; want a fresh one")
		}
		iter = *out.NextShardIterator
	}
	if !slices.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
	if !slices.Equal(pageSizes, []int{10, 10, 5}) {
		t.Errorf("page sizes %v, want [10 10 5]", pageSizes)
	}
	// After page 1 the oldest unread record (r10) is 15 s + 1 min old; after
	// page 2, r20 is 5 s + 1 min old; after page 3 nothing is unread.
	if wantBehind := []int64{75000, 65000, 0}; !slices.Equal(behind, wantBehind) {
		t.Errorf("MillisBehindLatest %v, want %v", behind, wantBehind)
	}

	for _, limit := range []int32{0, -1, 10001} {
		_, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(limit)})
		if awsapi.ErrorCode(err) != "InvalidArgumentException" {
			t.Errorf("Limit %d: err = %v, want InvalidArgumentException", limit, err)
		}
	}
	_, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String("not-an-iterator")})
	if awsapi.ErrorCode(err) != "InvalidArgumentException" {
		t.Errorf("garbage iterator: err = %v, want InvalidArgumentException", err)
	}
	// An iterator of another Fake is refused, not misread.
	g, _ := newTestFake(t)
	mustCreate(t, g, "s", 1)
	foreign := mustIterator(t, g, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	_, err = f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(foreign)})
	if awsapi.ErrorCode(err) != "InvalidArgumentException" {
		t.Errorf("foreign iterator: err = %v, want InvalidArgumentException", err)
	}
}

func TestGetRecordsOldIteratorStaysValid(t *testing.T) {
	f, _, _, _ := oneShardWithRecords(t)
	iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	in := &kinesis.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(2)}
	first, err := f.GetRecords(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// A retry with the same iterator (say, after a timeout) reads the same.
	again, err := f.GetRecords(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs(first.Records), seqs(again.Records)) || len(first.Records) != 2 {
		t.Errorf("re-read %v, first read %v", seqs(again.Records), seqs(first.Records))
	}
}

func TestGetRecordsByteCap(t *testing.T) {
	f, _ := newTestFake(t, Config{MaxBytesPerCall: 100, MaxRecordSize: 1000})
	mustCreate(t, f, "s", 1)
	// 40-byte records (39 data + 1 key): two fit in 100 bytes, three do not.
	for range 5 {
		mustPut(t, f, "s", "k", make([]byte, 39))
	}
	mustPut(t, f, "s", "k", make([]byte, 500)) // larger than the cap alone
	mustPut(t, f, "s", "k", make([]byte, 39))

	iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	var sizes []int
	for {
		out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) == 0 {
			break
		}
		sizes = append(sizes, len(out.Records))
		iter = *out.NextShardIterator
	}
	if want := []int{2, 2, 1, 1, 1}; !slices.Equal(sizes, want) {
		t.Errorf("records per call %v, want %v", sizes, want)
	}
}

func TestGetRecordsMaxRecordsOption(t *testing.T) {
	f, _ := newTestFake(t, Config{MaxRecordsPerCall: 3})
	mustCreate(t, f, "s", 1)
	for range 7 {
		mustPut(t, f, "s", "k", []byte("x"))
	}
	iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 3 {
		t.Errorf("got %d records with Limit 5 and a cap of 3", len(out.Records))
	}
}

func TestExpiredIterator(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		age      time.Duration
		expired  bool
	}{
		{"default, just before 5 min", 0, 5 * time.Minute, false},
		{"default, after 5 min", 0, 5*time.Minute + time.Millisecond, true},
		{"custom 10 s, at 9 s", 10 * time.Second, 9 * time.Second, false},
		{"custom 10 s, at 11 s", 10 * time.Second, 11 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			if tc.lifetime > 0 {
				cfg.IteratorLifetime = tc.lifetime
			}
			f, clk := newTestFake(t, cfg)
			mustCreate(t, f, "s", 1)
			mustPut(t, f, "s", "k", []byte("x"))
			iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
			clk.Advance(tc.age)
			out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
			if got := awsapi.IsExpiredIterator(err); got != tc.expired {
				t.Fatalf("IsExpiredIterator = %v (err %v), want %v", got, err, tc.expired)
			}
			if tc.expired {
				var e *types.ExpiredIteratorException
				if !errors.As(err, &e) {
					t.Errorf("err %T does not unwrap to *types.ExpiredIteratorException", err)
				}
				return
			}
			// The fresh iterator lives a full lifetime from now.
			clk.Advance(tc.age)
			if _, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator}); err != nil {
				t.Errorf("NextShardIterator after %v: %v", tc.age, err)
			}
		})
	}
}

func TestDeletedStreamIterators(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 1)
	mustPut(t, f, "s", "k", []byte("x"))
	iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	if err := f.DeleteStream("s"); err != nil {
		t.Fatal(err)
	}
	_, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
	if !awsapi.IsNotFound(err) {
		t.Fatalf("deleted stream: err = %v, want ResourceNotFoundException", err)
	}
	// A new stream of the same name is another stream.
	mustCreate(t, f, "s", 1)
	mustPut(t, f, "s", "k", []byte("y"))
	_, err = f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
	if !awsapi.IsNotFound(err) {
		t.Fatalf("recreated stream: err = %v, want ResourceNotFoundException", err)
	}
}
