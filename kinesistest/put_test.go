package kinesistest

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/internal/awsapi"
)

func TestCreateStreamLayout(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 3)
	shards := listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	wantIDs := []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
	if got := shardIDs(shards); fmt.Sprint(got) != fmt.Sprint(wantIDs) {
		t.Fatalf("shard ids = %v, want %v", got, wantIDs)
	}
	// Ranges tile [0, 2^128-1] without gaps, each about a third.
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	next := big.NewInt(0)
	for _, s := range shards {
		lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
		hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
		if lo.Cmp(next) != 0 {
			t.Errorf("%s starts at %s, want %s", *s.ShardId, lo, next)
		}
		width := new(big.Int).Sub(hi, lo)
		third := new(big.Int).Quo(two128, big.NewInt(3))
		if d := new(big.Int).Sub(width, third); d.CmpAbs(big.NewInt(2)) > 0 {
			t.Errorf("%s width %s, want about %s", *s.ShardId, width, third)
		}
		if s.SequenceNumberRange.EndingSequenceNumber != nil || s.ParentShardId != nil {
			t.Errorf("new shard %s has an end or a parent", *s.ShardId)
		}
		next = hi.Add(hi, big.NewInt(1))
	}
	if next.Cmp(two128) != 0 {
		t.Errorf("last shard ends at %s, want 2^128-1", new(big.Int).Sub(next, big.NewInt(1)))
	}

	if err := f.CreateStream("s", 1); !awsapi.IsResourceInUse(err) {
		t.Errorf("CreateStream of an existing name: err = %v, want ResourceInUseException", err)
	}
	for _, bad := range []struct {
		name   string
		shards int
	}{{"", 1}, {"a b", 1}, {strings.Repeat("x", 129), 1}, {"ok", 0}} {
		if err := f.CreateStream(bad.name, bad.shards); awsapi.ErrorCode(err) != "InvalidArgumentException" {
			t.Errorf("CreateStream(%q, %d): err = %v, want InvalidArgumentException", bad.name, bad.shards, err)
		}
	}
}

func TestRoutingByHashKey(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 4)
	quarter := new(big.Int).Lsh(big.NewInt(1), 126)
	key := func(mult int64, add int64) string {
		v := new(big.Int).Mul(quarter, big.NewInt(mult))
		return v.Add(v, big.NewInt(add)).String()
	}
	tests := []struct {
		hashKey string
		want    string
	}{
		{"0", "shardId-000000000000"},
		{key(1, -1), "shardId-000000000000"},
		{key(1, 0), "shardId-000000000001"},
		{key(2, 0), "shardId-000000000002"},
		{key(3, -1), "shardId-000000000002"},
		{key(3, 0), "shardId-000000000003"},
		{key(4, -1), "shardId-000000000003"}, // 2^128-1
	}
	for _, tc := range tests {
		got, _, err := f.putRecordExplicit("s", "any-key", tc.hashKey, []byte("x"))
		if err != nil {
			t.Fatalf("putRecordExplicit(%s): %v", tc.hashKey, err)
		}
		if got != tc.want {
			t.Errorf("hash key %s routed to %s, want %s", tc.hashKey, got, tc.want)
		}
	}

	// Partition keys route by MD5, computed here independently.
	shards := listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	for i := range 200 {
		pk := fmt.Sprintf("user-%d", i)
		got, _ := mustPut(t, f, "s", pk, []byte("x"))
		sum := md5.Sum([]byte(pk))
		h := new(big.Int).SetBytes(sum[:])
		var want string
		for _, s := range shards {
			lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
			hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
			if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
				want = *s.ShardId
			}
		}
		if got != want {
			t.Fatalf("partition key %q (hash %s) routed to %s, want %s", pk, h, got, want)
		}
	}
}

func TestPutValidation(t *testing.T) {
	f, _ := newTestFake(t, Config{MaxRecordSize: 100})
	mustCreate(t, f, "s", 1)
	tests := []struct {
		name, stream, pk, ehk string
		data                  []byte
		code                  string
	}{
		{"empty partition key", "s", "", "", []byte("x"), "InvalidArgumentException"},
		{"257-char partition key", "s", strings.Repeat("k", 257), "", []byte("x"), "InvalidArgumentException"},
		{"record too large", "s", "k", "", make([]byte, 100), "InvalidArgumentException"},
		{"negative hash key", "s", "k", "-1", []byte("x"), "InvalidArgumentException"},
		{"hash key 2^128", "s", "k", new(big.Int).Lsh(big.NewInt(1), 128).String(), []byte("x"), "InvalidArgumentException"},
		{"hash key leading zero", "s", "k", "01", []byte("x"), "InvalidArgumentException"},
		{"unknown stream", "nope", "k", "", []byte("x"), "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.putRecordExplicit(tc.stream, tc.pk, tc.ehk, tc.data)
			if got := awsapi.ErrorCode(err); got != tc.code {
				t.Errorf("err = %v (code %q), want %s", err, got, tc.code)
			}
		})
	}
	// 256 characters (not bytes) is the limit: multi-byte keys are fine.
	if _, _, err := f.PutRecord("s", strings.Repeat("é", 40), []byte("x")); err != nil {
		t.Errorf("40 two-byte characters: %v", err)
	}
	// PutRecords is all or nothing.
	_, err := f.PutRecords("s", []PutEntry{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "", Data: []byte("2")}})
	if err == nil {
		t.Fatal("PutRecords with an invalid entry succeeded")
	}
	recs, _ := readToEnd(t, f, mustIterator(t, f, iterIn("s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)), 0)
	for _, r := range recs {
		if string(r.Data) == "1" {
			t.Error("PutRecords stored an entry of a failed call")
		}
	}
}

func TestSequenceNumbersIncrease(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 3)
	var prev *big.Int
	perShard := map[string]*big.Int{}
	entries := make([]PutEntry, 300)
	for i := range entries {
		entries[i] = PutEntry{PartitionKey: fmt.Sprint(i), Data: []byte{byte(i)}}
	}
	res, err := f.PutRecords("s", entries)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if len(r.SequenceNumber) != 56 {
			t.Fatalf("sequence number %q has %d digits, want 56", r.SequenceNumber, len(r.SequenceNumber))
		}
		v, ok := new(big.Int).SetString(r.SequenceNumber, 10)
		if !ok {
			t.Fatalf("sequence number %q is not decimal", r.SequenceNumber)
		}
		if prev != nil && v.Cmp(prev) <= 0 {
			t.Fatalf("record %d: %s not above previous %s", i, v, prev)
		}
		if p := perShard[r.ShardID]; p != nil && v.Cmp(p) <= 0 {
			t.Fatalf("record %d: %s not above previous in %s", i, v, r.ShardID)
		}
		prev, perShard[r.ShardID] = v, v
	}
	if len(perShard) != 3 {
		t.Errorf("300 keys reached %d shards, want 3", len(perShard))
	}
}

func TestPutCopiesData(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 1)
	buf := []byte("original")
	mustPut(t, f, "s", "k", buf)
	copy(buf, "CLOBBER!")

	iter := mustIterator(t, f, iterIn("s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon))
	out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out.Records[0].Data); got != "original" {
		t.Fatalf("stored data = %q after the caller reused its buffer", got)
	}
	// Corrupting a response must not reach the store either.
	copy(out.Records[0].Data, "CLOBBER!")
	again, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(again.Records[0].Data); got != "original" {
		t.Fatalf("stored data = %q after the caller changed a response", got)
	}
}

func TestDescribeStreamSummary(t *testing.T) {
	f, _ := newTestFake(t, Config{Region: "eu-west-1", Account: "123456789012"})
	mustCreate(t, f, "orders", 2)
	if err := f.SplitShard("orders", "shardId-000000000000", "1000"); err != nil {
		t.Fatal(err)
	}
	wantARN := "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
	if got := f.arn("orders"); got != wantARN {
		t.Fatalf("StreamARN = %q, want %q", got, wantARN)
	}
	for _, in := range []*kinesis.DescribeStreamSummaryInput{
		{StreamName: aws.String("orders")},
		{StreamARN: aws.String(wantARN)},
		{StreamName: aws.String("orders"), StreamARN: aws.String(wantARN)},
	} {
		out, err := f.DescribeStreamSummary(context.Background(), in)
		if err != nil {
			t.Fatalf("DescribeStreamSummary(%+v): %v", in, err)
		}
		d := out.StreamDescriptionSummary
		if d.StreamStatus != types.StreamStatusActive || aws.ToInt32(d.OpenShardCount) != 3 ||
			aws.ToString(d.StreamARN) != wantARN || aws.ToString(d.StreamName) != "orders" {
			t.Errorf("summary = status %s, open %d, arn %s, name %s; want ACTIVE, 3, %s, orders",
				d.StreamStatus, aws.ToInt32(d.OpenShardCount), aws.ToString(d.StreamARN), aws.ToString(d.StreamName), wantARN)
		}
	}
	tests := []struct {
		name string
		in   *kinesis.DescribeStreamSummaryInput
		code string
	}{
		{"unknown name", &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("nope")}, "ResourceNotFoundException"},
		{"other account", &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String("arn:aws:kinesis:eu-west-1:999999999999:stream/orders")}, "ResourceNotFoundException"},
		{"garbage ARN", &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String("orders")}, "InvalidArgumentException"},
		{"name and ARN disagree", &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("x"), StreamARN: aws.String(wantARN)}, "InvalidArgumentException"},
		{"neither", &kinesis.DescribeStreamSummaryInput{}, "InvalidArgumentException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.DescribeStreamSummary(context.Background(), tc.in)
			if got := awsapi.ErrorCode(err); got != tc.code {
				t.Errorf("err = %v, want %s", err, tc.code)
			}
		})
	}
	if err := f.DeleteStream("orders"); err != nil {
		t.Fatal(err)
	}
	_, err := f.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !awsapi.IsNotFound(err) {
		t.Errorf("after DeleteStream: err = %v, want ResourceNotFoundException", err)
	}
	if err := f.DeleteStream("orders"); !awsapi.IsNotFound(err) {
		t.Errorf("second DeleteStream: err = %v, want ResourceNotFoundException", err)
	}
}
