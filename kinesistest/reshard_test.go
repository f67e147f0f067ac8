package kinesistest

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/internal/awsapi"
)

func bigOf(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("%q is not a decimal", s)
	}
	return v
}

func TestShardEndAfterSplit(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 1)
	for i := range 5 {
		mustPut(t, f, "s", "k", fmt.Appendf(nil, "before-%d", i))
	}
	parentIter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	half := new(big.Int).Lsh(big.NewInt(1), 127).String()
	if err := f.SplitShard("s", id(0), half); err != nil {
		t.Fatal(err)
	}
	childShard, _ := mustPut(t, f, "s", "k", []byte("after"))
	if childShard != id(1) && childShard != id(2) {
		t.Fatalf("record after the split went to %s, want a child", childShard)
	}

	// The parent keeps its records and ends: the page with its last records
	// has no NextShardIterator and names the children.
	recs, last := readToEnd(t, f, parentIter, 3)
	if got := datas(recs); !slices.Equal(got, []string{"before-0", "before-1", "before-2", "before-3", "before-4"}) {
		t.Fatalf("parent read %v", got)
	}
	if last.NextShardIterator != nil {
		t.Fatal("closed parent read to the end still has a NextShardIterator")
	}
	if len(last.Records) != 2 {
		t.Errorf("final page has %d records, want the last 2 with the shard end", len(last.Records))
	}
	wantChildren := []types.ChildShard{
		{ShardId: aws.String(id(1)), ParentShards: []string{id(0)}, HashKeyRange: &types.HashKeyRange{
			StartingHashKey: aws.String("0"), EndingHashKey: aws.String(new(big.Int).Sub(bigOf(t, half), big.NewInt(1)).String())}},
		{ShardId: aws.String(id(2)), ParentShards: []string{id(0)}, HashKeyRange: &types.HashKeyRange{
			StartingHashKey: aws.String(half), EndingHashKey: aws.String(maxHashKey.String())}},
	}
	checkChildren(t, last.ChildShards, wantChildren)

	// A reader that starts at the end (LATEST, or after the ending sequence
	// number) gets the end at once.
	shards := listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	endSeq := aws.ToString(shards[0].SequenceNumberRange.EndingSequenceNumber)
	if endSeq == "" {
		t.Fatal("closed parent has no EndingSequenceNumber")
	}
	for _, in := range []*kinesis.GetShardIteratorInput{
		iterIn("s", id(0), types.ShardIteratorTypeLatest),
		withSeq(iterIn("s", id(0), types.ShardIteratorTypeAfterSequenceNumber), endSeq),
	} {
		out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(mustIterator(t, f, in))})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 0 || out.NextShardIterator != nil || len(out.ChildShards) != 2 {
			t.Errorf("%s: %d records, next %v, %d children; want 0, nil, 2",
				in.ShardIteratorType, len(out.Records), out.NextShardIterator != nil, len(out.ChildShards))
		}
	}

	// Every child sequence number is above every parent sequence number,
	// which is what keeps a key's order across the split.
	childRecs, _ := readToEnd(t, f, mustIterator(t, f, iterIn("s", childShard, types.ShardIteratorTypeTrimHorizon)), 0)
	if len(childRecs) != 1 || bigOf(t, *childRecs[0].SequenceNumber).Cmp(bigOf(t, endSeq)) <= 0 {
		t.Errorf("child record %v not above the parent's end %s", seqs(childRecs), endSeq)
	}
	if bigOf(t, *recs[4].SequenceNumber).Cmp(bigOf(t, endSeq)) >= 0 {
		t.Errorf("parent's last record %s not below its end %s", *recs[4].SequenceNumber, endSeq)
	}

	for _, tc := range []struct {
		name, shard, key, code string
	}{
		{"closed shard", id(0), "5", "InvalidArgumentException"},
		{"key at the start", id(1), "0", "InvalidArgumentException"},
		{"key past the end", id(1), half, "InvalidArgumentException"},
		{"not a key", id(1), "x", "InvalidArgumentException"},
		{"unknown shard", "shardId-000000000042", "5", "ResourceNotFoundException"},
	} {
		if err := f.SplitShard("s", tc.shard, tc.key); awsapi.ErrorCode(err) != tc.code {
			t.Errorf("SplitShard %s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
}

func checkChildren(t *testing.T, got, want []types.ChildShard) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d child shards, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if aws.ToString(g.ShardId) != aws.ToString(w.ShardId) || !slices.Equal(g.ParentShards, w.ParentShards) ||
			aws.ToString(g.HashKeyRange.StartingHashKey) != aws.ToString(w.HashKeyRange.StartingHashKey) ||
			aws.ToString(g.HashKeyRange.EndingHashKey) != aws.ToString(w.HashKeyRange.EndingHashKey) {
			t.Errorf("child %d = {%s %v [%s, %s]}, want {%s %v [%s, %s]}", i,
				aws.ToString(g.ShardId), g.ParentShards, aws.ToString(g.HashKeyRange.StartingHashKey), aws.ToString(g.HashKeyRange.EndingHashKey),
				aws.ToString(w.ShardId), w.ParentShards, aws.ToString(w.HashKeyRange.StartingHashKey), aws.ToString(w.HashKeyRange.EndingHashKey))
		}
	}
}

func TestShardEndAfterMerge(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("OmitChildShards=%v", omit), func(t *testing.T) {
			var cfg Config
			if omit {
				cfg.OmitChildShards = true
			}
			f, _ := newTestFake(t, cfg)
			mustCreate(t, f, "s", 3)
			mustPutExplicit(t, f, "s", "0", "in-0")                           // shard 0
			mustPutExplicit(t, f, "s", evenBoundaries(3)[1].String(), "in-1") // shard 1

			if err := f.MergeShards("s", id(0), id(2)); awsapi.ErrorCode(err) != "InvalidArgumentException" {
				t.Errorf("merging non-adjacent shards: err = %v, want InvalidArgumentException", err)
			}
			if err := f.MergeShards("s", id(1), id(1)); awsapi.ErrorCode(err) != "InvalidArgumentException" {
				t.Errorf("merging a shard with itself: err = %v, want InvalidArgumentException", err)
			}
			// Arguments in either hash order; the first is the ParentShardId.
			if err := f.MergeShards("s", id(1), id(0)); err != nil {
				t.Fatal(err)
			}
			want := []types.ChildShard{{
				ShardId: aws.String(id(3)), ParentShards: []string{id(1), id(0)},
				HashKeyRange: &types.HashKeyRange{
					StartingHashKey: aws.String("0"),
					EndingHashKey:   aws.String(evenBoundaries(3)[2].dec().String()),
				},
			}}
			for p, data := range map[int]string{0: "in-0", 1: "in-1"} {
				recs, last := readToEnd(t, f, mustIterator(t, f, iterIn("s", id(p), types.ShardIteratorTypeTrimHorizon)), 0)
				if got := datas(recs); !slices.Equal(got, []string{data}) {
					t.Errorf("parent %d read %v, want [%s]", p, got, data)
				}
				if last.NextShardIterator != nil {
					t.Errorf("parent %d: NextShardIterator after the end", p)
				}
				if omit {
					if len(last.ChildShards) != 0 {
						t.Errorf("parent %d: ChildShards %v despite OmitChildShards", p, last.ChildShards)
					}
					continue
				}
				checkChildren(t, last.ChildShards, want)
			}
			if sh, _ := mustPut(t, f, "s", "k", []byte("x")); sh != id(3) && sh != id(2) {
				t.Errorf("record after the merge went to %s", sh)
			}
			if err := f.MergeShards("s", id(3), id(0)); awsapi.ErrorCode(err) != "InvalidArgumentException" {
				t.Errorf("merging a closed shard: err = %v, want InvalidArgumentException", err)
			}
		})
	}
}

func mustPutExplicit(t *testing.T, f *Fake, stream, hashKey, data string) {
	t.Helper()
	if _, _, err := f.putRecordExplicit(stream, "k", hashKey, []byte(data)); err != nil {
		t.Fatalf("putRecordExplicit(%s): %v", hashKey, err)
	}
}

func TestUpdateShardCount(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 4)
	if err := f.UpdateShardCount("s", 16); awsapi.ErrorCode(err) != "LimitExceededException" {
		t.Fatalf("4 -> 16 in one call: err = %v, want LimitExceededException (at most double)", err)
	}

	steps := []struct {
		target    int
		wantTotal int // shards ever created
	}{
		{8, 4 + 8},      // each of 4 split in two
		{16, 12 + 16},   // each of 8 split in two
		{8, 28 + 8},     // pairs of 16 merged
		{5, 36 + 8 + 7}, // uneven: 4 splits make 12 pieces, 7 merges leave 5
		{3, 51 + 4 + 4}, // 2 splits make 7 pieces, 4 merges leave 3
	}
	for _, st := range steps {
		t.Run(fmt.Sprintf("to %d", st.target), func(t *testing.T) {
			if err := f.UpdateShardCount("s", st.target); err != nil {
				t.Fatal(err)
			}
			all := listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")})
			open := listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
			if len(open) != st.target {
				t.Fatalf("%d open shards, want %d", len(open), st.target)
			}
			if len(all) != st.wantTotal {
				t.Errorf("%d shards in all, want %d", len(all), st.wantTotal)
			}
			// The open shards are the even layout.
			bounds := evenBoundaries(st.target)
			for i, s := range open {
				wantEnd := maxHashKey
				if i+1 < st.target {
					wantEnd = bounds[i+1].dec()
				}
				if *s.HashKeyRange.StartingHashKey != bounds[i].String() || *s.HashKeyRange.EndingHashKey != wantEnd.String() {
					t.Errorf("open shard %d (%s) = [%s, %s], want [%s, %s]", i, *s.ShardId,
						*s.HashKeyRange.StartingHashKey, *s.HashKeyRange.EndingHashKey, bounds[i], wantEnd)
				}
			}
			// Lineage: every non-root shard's parents exist, are closed, and
			// their ranges cover exactly the child's.
			byID := map[string]types.Shard{}
			for _, s := range all {
				byID[*s.ShardId] = s
			}
			for _, s := range all {
				if s.ParentShardId == nil {
					continue
				}
				lo, hi := bigOf(t, *s.HashKeyRange.StartingHashKey), bigOf(t, *s.HashKeyRange.EndingHashKey)
				parents := []string{*s.ParentShardId}
				if s.AdjacentParentShardId != nil {
					parents = append(parents, *s.AdjacentParentShardId)
				}
				covered := false
				var plo, phi *big.Int
				for _, pid := range parents {
					p, ok := byID[pid]
					if !ok || p.SequenceNumberRange.EndingSequenceNumber == nil {
						t.Fatalf("%s: parent %s missing or open", *s.ShardId, pid)
					}
					a, b := bigOf(t, *p.HashKeyRange.StartingHashKey), bigOf(t, *p.HashKeyRange.EndingHashKey)
					if plo == nil || a.Cmp(plo) < 0 {
						plo = a
					}
					if phi == nil || b.Cmp(phi) > 0 {
						phi = b
					}
				}
				if len(parents) == 2 {
					covered = plo.Cmp(lo) == 0 && phi.Cmp(hi) == 0
				} else {
					covered = plo.Cmp(lo) <= 0 && phi.Cmp(hi) >= 0
				}
				if !covered {
					t.Errorf("%s [%s, %s] not covered by parents %v [%s, %s]", *s.ShardId, lo, hi, parents, plo, phi)
				}
			}
		})
	}
	if err := f.UpdateShardCount("s", 1); awsapi.ErrorCode(err) != "LimitExceededException" {
		t.Errorf("3 -> 1: err = %v, want LimitExceededException (below half)", err)
	}
	if err := f.UpdateShardCount("nope", 2); !awsapi.IsNotFound(err) {
		t.Errorf("unknown stream: err = %v, want ResourceNotFoundException", err)
	}
}

// TestReshardKeepsKeyOrder reads every shard in lineage order after a
// 4 -> 8 -> 16 -> 8 rescale with puts in between, and checks each partition
// key's records come back complete and in put order.
func TestReshardKeepsKeyOrder(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 4)
	const keys = 40
	next := map[string]int{}
	put := func() {
		for k := range keys {
			pk := fmt.Sprintf("key-%d", k)
			mustPut(t, f, "s", pk, fmt.Appendf(nil, "%s/%d", pk, next[pk]))
			next[pk]++
		}
	}
	put()
	for _, n := range []int{8, 16, 8} {
		if err := f.UpdateShardCount("s", n); err != nil {
			t.Fatal(err)
		}
		put()
	}
	// Shard ids grow with creation, and a child is always created after
	// its parents, so id order is a valid lineage order.
	seen := map[string]int{}
	for _, s := range listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")}) {
		recs, _ := readToEnd(t, f, mustIterator(t, f, iterIn("s", *s.ShardId, types.ShardIteratorTypeTrimHorizon)), 0)
		for _, r := range recs {
			pk := aws.ToString(r.PartitionKey)
			if want := fmt.Sprintf("%s/%d", pk, seen[pk]); string(r.Data) != want {
				t.Fatalf("shard %s: got %s, want %s", *s.ShardId, r.Data, want)
			}
			seen[pk]++
		}
	}
	for pk, n := range next {
		if seen[pk] != n {
			t.Errorf("%s: read %d records, put %d", pk, seen[pk], n)
		}
	}
}
