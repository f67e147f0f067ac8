package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// msJournal records deliveries per (stream ARN, shard), from processors
// that learn their stream in Initialize.
type msJournal struct {
	mu    sync.Mutex
	first map[string]consumer.ExtendedSequenceNumber // stream|shard -> first delivered
	data  map[string]int                             // payload -> deliveries
	inits []consumer.InitializationInput
	last  map[string]int // stream|key -> last counter (order check)
	bad   []string
}

func newMSJournal() *msJournal {
	return &msJournal{first: map[string]consumer.ExtendedSequenceNumber{}, data: map[string]int{}, last: map[string]int{}}
}

type msProcessor struct {
	j         *msJournal
	stream    string
	shard     string
	factoryOf string // the stream ARN NewStreamProcessor was given
}

func (p *msProcessor) Initialize(_ context.Context, in consumer.InitializationInput) error {
	p.stream = in.StreamARN
	p.j.mu.Lock()
	p.j.inits = append(p.j.inits, in)
	if in.ShardID != p.shard {
		p.j.bad = append(p.j.bad, fmt.Sprintf("Initialize ShardID %q, factory got %q", in.ShardID, p.shard))
	}
	if in.StreamARN != p.factoryOf || in.StreamARN == "" {
		p.j.bad = append(p.j.bad, fmt.Sprintf("Initialize StreamARN %q, factory got %q (shard %s)", in.StreamARN, p.factoryOf, p.shard))
	}
	p.j.mu.Unlock()
	return nil
}

func (p *msProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.j.mu.Lock()
	for _, r := range in.Records {
		k := p.stream + "|" + p.shard
		if _, ok := p.j.first[k]; !ok {
			p.j.first[k] = r.Position()
		}
		p.j.data[string(r.Data)]++
		key, cs, _ := strings.Cut(string(r.Data), ":")
		c, _ := strconv.Atoi(cs)
		if prev, ok := p.j.last[key]; ok && c <= prev {
			p.j.bad = append(p.j.bad, fmt.Sprintf("%s: counter %d after %d", key, c, prev))
		}
		p.j.last[key] = c
	}
	p.j.mu.Unlock()
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *msProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}
func (p *msProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}
func (p *msProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// factory tells each processor its stream (consumer.StreamProcessorFactory),
// as a multi-stream application's factory would be told.
func (j *msJournal) factory() consumer.ProcessorFactory { return msFactory{j} }

type msFactory struct{ j *msJournal }

func (f msFactory) NewProcessor(shard string) consumer.Processor {
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	f.j.bad = append(f.j.bad, "NewProcessor called for "+shard+"; a StreamProcessorFactory must be asked with its stream")
	return &msProcessor{j: f.j, shard: shard}
}

func (f msFactory) NewStreamProcessor(streamARN, shard string) consumer.Processor {
	return &msProcessor{j: f.j, shard: shard, factoryOf: streamARN}
}

func (j *msJournal) delivered(payload string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.data[payload] > 0
}

// streamPrefix is the multi-stream lease-key prefix of a fake stream, as
// the Java KCL would have serialized it.
func streamPrefix(t *testing.T, f *kinesistest.Fake, name string) (prefix, arn string) {
	t.Helper()
	out, err := f.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.StreamDescriptionSummary
	st := leasekey.Stream{Account: "000000000000", Name: name, CreationEpoch: d.StreamCreationTimestamp.Unix()}
	return st.String(), aws.ToString(d.StreamARN)
}

// foreignLeases are leases no worker of the test application may touch:
// returned by key so the test can compare them afterwards.
func putForeignLeases(t *testing.T, store leases.Store, keys ...string) map[string]leases.Lease {
	t.Helper()
	out := map[string]leases.Lease{}
	for i, k := range keys {
		l := leases.Lease{Key: k, Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "4959" + strconv.Itoa(100+i)}, Counter: 7}
		if i%2 == 0 {
			l.Owner = "java-worker-gone" // a dead owner: the leader must not reassign it either
		}
		if _, err := store.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		got, err := store.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = got
	}
	return out
}

func checkUntouched(t *testing.T, store leases.Store, before map[string]leases.Lease) {
	t.Helper()
	for k, b := range before {
		got, err := store.Get(context.Background(), k)
		if err != nil {
			t.Errorf("lease %q: %v (it must never be deleted)", k, err)
			continue
		}
		if got.Owner != b.Owner || got.Counter != b.Counter || got.Checkpoint != b.Checkpoint {
			t.Errorf("lease %q was rewritten: %+v, was %+v", k, got, b)
		}
	}
}

// A single-stream application pointed at a table holding leases it does
// not understand (a Java multi-stream lease, a malformed key) leaves them
// exactly as they are through many shard syncs on the leader: before the
// fix, the vanished-lease cleanup deleted them after two syncs.
func TestUnknownLeasesNeverDeletedSingleStream(t *testing.T) {
	h := newHarness(t, 2)
	foreign := putForeignLeases(t, h.store,
		"123456789012:orders:1700000000:shardId-000000000000",
		"123456789012:orders:1700000000:shardId-000000000001",
		"not:a:lease key",
		"a:b")
	j := newMSJournal()
	cfg := h.config("w1")
	cfg.ShardSyncInterval = 20 * time.Millisecond
	stop := h.start(cfg, j.factory())
	h.put(0, 20, 4)
	waitFor(t, 10*time.Second, "records delivered", func() bool { return j.delivered("key-3:19") && j.delivered("key-0:0") })
	// Many syncs as leader: the vanished-lease cleanup needs two.
	waitFor(t, 10*time.Second, "leader and syncs", func() bool { return h.sched.IsLeader() })
	n := h.fake.Calls("ListShards")
	waitFor(t, 10*time.Second, "five more shard syncs", func() bool { return h.fake.Calls("ListShards") >= n+5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkUntouched(t, h.store, foreign)
	if h.sched.unknownLeases.Load() == 0 {
		t.Error("no unknown lease was counted")
	}
}

// A multi-stream application takes over a table the Java KCL wrote: its
// leases (multi-stream keys, bare parent ids) resume after their
// checkpoints, every shard's processor learns its stream, and the leases
// it does not consume — another stream's, a single-stream one (a mixed
// table), a malformed key — are never deleted, assigned or rewritten.
func TestMultiStreamTakesOverJavaLeases(t *testing.T) {
	h := newHarness(t, 2)
	if err := h.fake.CreateStream("stream-b", 1); err != nil {
		t.Fatal(err)
	}
	prefA, arnA := streamPrefix(t, h.fake, h.stream)
	prefB, arnB := streamPrefix(t, h.fake, "stream-b")
	// Records before the checkpoints, then the checkpoints where Java
	// left them: after record 9 of each shard.
	var cps = map[string]string{} // lease key -> checkpoint
	put := func(stream string, from, n int) {
		for i := from; i < from+n; i++ {
			for _, pk := range []string{"p0", "p1", "p2", "p3"} {
				shard, seq, err := h.fake.PutRecord(stream, pk, []byte(fmt.Sprintf("%s/%s:%d", stream, pk, i)))
				if err != nil {
					t.Fatal(err)
				}
				if i == 9 {
					pref := prefA
					if stream == "stream-b" {
						pref = prefB
					}
					cps[pref+":"+shard] = seq
				}
			}
		}
	}
	put(h.stream, 0, 10)
	put("stream-b", 0, 10)
	if len(cps) != 3 {
		t.Fatalf("checkpoints on %d shards, want 3 (%v)", len(cps), cps)
	}
	ctx := t.Context()
	for key, seq := range cps {
		if _, err := h.store.Create(ctx, leases.Lease{Key: key, Owner: "java-worker-1", Counter: 11, Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: seq},
			StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455"}); err != nil {
			t.Fatal(err)
		}
	}
	// The hash ranges above are wrong for stream-a's two shards; fix them
	// from the listing so the audit finds no hole (Java writes the real ones).
	shards, _ := h.fake.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(h.stream)})
	for _, sh := range shards.Shards {
		k := prefA + ":" + aws.ToString(sh.ShardId)
		l, _ := h.store.Get(ctx, k)
		_ = h.store.Delete(ctx, k, l.Counter)
		l.StartingHashKey, l.EndingHashKey = aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey)
		if _, err := h.store.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	foreign := putForeignLeases(t, h.store,
		"123456789012:other-stream:1700000000:shardId-000000000000",
		"shardId-000000000000", // a single-stream lease in a multi-stream table
		"123456789012:bad/name:1:shardId-000000000000")

	j := newMSJournal()
	sink := metrics.NewMemory(metrics.LevelDetailed)
	cfg := h.config("w1")
	cfg.Metrics = sink
	cfg.StreamName = ""
	cfg.Streams = []StreamConfig{{Name: h.stream}, {ARN: arnB}}
	cfg.FailoverTime = time.Second // java-worker-1 never heartbeats: expired after this
	cfg.ShardSyncInterval = 30 * time.Millisecond
	stop := h.start(cfg, j.factory())
	put(h.stream, 10, 5)
	put("stream-b", 10, 5)
	waitFor(t, 15*time.Second, "records after the checkpoints", func() bool {
		for _, s := range []string{h.stream, "stream-b"} {
			for _, pk := range []string{"p0", "p1", "p2", "p3"} {
				if !j.delivered(fmt.Sprintf("%s/%s:14", s, pk)) {
					return false
				}
			}
		}
		return true
	})
	n := h.fake.Calls("ListShards")
	waitFor(t, 10*time.Second, "more shard syncs", func() bool { return h.fake.Calls("ListShards") >= n+6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for payload := range j.data {
		_, c, _ := strings.Cut(payload, ":")
		if i, _ := strconv.Atoi(c); i <= 9 {
			t.Errorf("record %q at or before the Java checkpoint was delivered", payload)
		}
	}
	for _, b := range j.bad {
		t.Error(b)
	}
	arns := map[string]bool{}
	for _, in := range j.inits {
		arns[in.StreamARN] = true
		if strings.Contains(in.ShardID, ":") {
			t.Errorf("InitializationInput.ShardID %q is not a bare shard id", in.ShardID)
		}
	}
	if !arns[arnA] || !arns[arnB] || len(arns) != 2 {
		t.Errorf("streams seen by processors: %v, want %s and %s", arns, arnA, arnB)
	}
	checkUntouched(t, h.store, foreign)
	// Per-shard metrics carry the stream as StreamId next to the bare
	// ShardId; the skipped leases are counted.
	pt := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationProcessTask), dim(metricnames.DimensionShardID, "shardId-000000000000"),
		dim(metricnames.DimensionWorkerIdentifier, "w1"), dim(metricnames.DimensionStreamID, prefB)}
	if got := sink.Sum(metricnames.MetricRecordsProcessed, pt...); got != 20 {
		t.Errorf("stream-b's RecordsProcessed with StreamId %s: %v, want 20", prefB, got)
	}
	if got := sink.Sum(metricnames.MetricUnknownLeases, dim(metricnames.DimensionOperation, metricnames.OperationRenewAllLeases), dim(metricnames.DimensionWorkerIdentifier, "w1")); got < 3 {
		t.Errorf("UnknownLeases %v, want at least the 3 foreign leases", got)
	}
	all, _ := h.store.List(context.Background())
	for _, l := range all {
		if _, ok := foreign[l.Key]; ok {
			continue
		}
		if !strings.HasPrefix(l.Key, prefA+":") && !strings.HasPrefix(l.Key, prefB+":") {
			t.Errorf("unexpected lease %q in the table", l.Key)
		}
	}
}

// Streams come and go with the StreamTracker: an added stream gets leases
// at the next sync and is read; a removed one stops being read and keeps
// its leases; a split in one stream starts its children (keys with the
// stream's prefix, parents by bare id) without disturbing the other.
func TestMultiStreamTrackerAddRemoveAndSplit(t *testing.T) {
	bothModes(t, testMultiStreamTrackerAddRemoveAndSplit)
}

func testMultiStreamTrackerAddRemoveAndSplit(t *testing.T) {
	h := newHarness(t, 1)
	for _, s := range []string{"stream-b", "stream-c"} {
		if err := h.fake.CreateStream(s, 1); err != nil {
			t.Fatal(err)
		}
	}
	prefA, _ := streamPrefix(t, h.fake, h.stream)
	prefC, _ := streamPrefix(t, h.fake, "stream-c")
	var tracked atomic.Pointer[[]StreamConfig]
	set := func(names ...string) {
		var l []StreamConfig
		for _, n := range names {
			l = append(l, StreamConfig{Name: n})
		}
		tracked.Store(&l)
	}
	set(h.stream, "stream-c")
	j := newMSJournal()
	cfg := h.config("w1")
	cfg.StreamName = ""
	cfg.StreamTracker = func(context.Context) ([]StreamConfig, error) { return *tracked.Load(), nil }
	cfg.ShardSyncInterval = 30 * time.Millisecond
	stop := h.start(cfg, j.factory())
	putOne := func(stream string, i int) {
		if _, _, err := h.fake.PutRecord(stream, "k", []byte(fmt.Sprintf("%s:%d", stream, i))); err != nil {
			t.Fatal(err)
		}
	}
	putOne(h.stream, 1)
	putOne("stream-c", 1)
	waitFor(t, 10*time.Second, "first records", func() bool { return j.delivered(h.stream+":1") && j.delivered("stream-c:1") })

	// Add stream-b, remove stream-c.
	set(h.stream, "stream-b")
	putOne("stream-b", 1)
	waitFor(t, 10*time.Second, "added stream read", func() bool { return j.delivered("stream-b:1") })
	putOne("stream-c", 2)
	// Split stream-a's shard; records after the split go to the children.
	if err := h.fake.SplitShard(h.stream, "shardId-000000000000", "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 12; i++ {
		putOne(h.stream, i)
	}
	waitFor(t, 15*time.Second, "records after the split", func() bool { return j.delivered(h.stream + ":11") })
	n := h.fake.Calls("ListShards")
	waitFor(t, 10*time.Second, "more shard syncs", func() bool { return h.fake.Calls("ListShards") >= n+6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if j.delivered("stream-c:2") {
		t.Error("a record of the removed stream was read after it was removed")
	}
	if _, err := h.store.Get(context.Background(), prefC+":shardId-000000000000"); err != nil {
		t.Errorf("the removed stream's lease: %v (keep strategy: it must stay)", err)
	}
	all, _ := h.store.List(context.Background())
	var children []string
	for _, l := range all {
		if strings.HasPrefix(l.Key, prefA+":") && len(l.ParentShardIDs) > 0 {
			children = append(children, l.Key)
			if !slices.Equal(l.ParentShardIDs, []string{"shardId-000000000000"}) {
				t.Errorf("child %s has parents %v, want the bare parent id", l.Key, l.ParentShardIDs)
			}
		}
	}
	if len(children) != 2 {
		t.Errorf("children of the split: %v, want 2 with stream-a's prefix", children)
	}
	j.mu.Lock()
	for _, b := range j.bad {
		t.Error(b)
	}
	// The split of stream-a did not disturb stream-b: its one shard was
	// initialized once.
	bInits := 0
	for _, in := range j.inits {
		if strings.HasSuffix(in.StreamARN, "/stream-b") {
			bInits++
		}
	}
	if bInits != 1 {
		t.Errorf("stream-b's shard was initialized %d times, want once", bInits)
	}
	j.mu.Unlock()
	if !fanOutMode(t) {
		return
	}
	// One consumer named after the application on each stream read,
	// stream-b's registered when the tracker added it.
	for _, name := range []string{h.stream, "stream-b", "stream-c"} {
		_, arn := streamPrefix(t, h.fake, name)
		out, err := h.fake.ListStreamConsumers(t.Context(), &kinesis.ListStreamConsumersInput{StreamARN: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Consumers) != 1 || aws.ToString(out.Consumers[0].ConsumerName) != cfg.ApplicationName {
			t.Errorf("stream %s: consumers %+v, want one named %q", name, out.Consumers, cfg.ApplicationName)
		}
	}
}

// A static stream list naming a stream that does not exist fails Run with
// an error naming it, and touches nothing.
func TestMultiStreamUnknownStreamIsAnError(t *testing.T) {
	h := newHarness(t, 1)
	cfg := h.config("w1")
	cfg.StreamName = ""
	cfg.Streams = []StreamConfig{{Name: h.stream}, {Name: "no-such-stream"}}
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no-such-stream") || !errors.Is(err, errStreamGone) {
		t.Fatalf("Run = %v, want an error naming the missing stream", err)
	}
	if all, _ := h.store.List(context.Background()); len(all) != 0 {
		t.Errorf("leases created: %v", all)
	}
}

func TestMultiStreamConfigValidation(t *testing.T) {
	h := newHarness(t, 1)
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"both forms", func(c *Config) { c.Streams = []StreamConfig{{Name: "a"}} }, "Streams"},
		{"bad ARN", func(c *Config) { c.StreamName = ""; c.Streams = []StreamConfig{{ARN: "arn:aws:s3:::bucket"}} }, "Streams[0]"},
		{"ARN and name differ", func(c *Config) {
			c.StreamName = ""
			c.Streams = []StreamConfig{{Name: "x", ARN: "arn:aws:kinesis:us-east-1:123456789012:stream/y"}}
		}, "Streams[0]"},
		{"twice", func(c *Config) { c.StreamName = ""; c.Streams = []StreamConfig{{Name: "x"}, {Name: "x"}} }, "Streams[1]"},
		{"bad name", func(c *Config) { c.StreamName = ""; c.Streams = []StreamConfig{{Name: "a b"}} }, "Streams[0]"},
		{"deleting strategy, single stream", func(c *Config) { c.FormerStreamLeases = formerDeleteWhenGone }, "FormerStreamLeases"},
		{"unknown strategy", func(c *Config) {
			c.StreamName = ""
			c.Streams = []StreamConfig{{Name: "x"}}
			c.FormerStreamLeases = "drop"
		}, "FormerStreamLeases"},
		{"listed, empty list", func(c *Config) {
			c.StreamName = ""
			c.Streams = []StreamConfig{{Name: "x"}}
			c.FormerStreamLeases = formerDeleteListed
		}, "FormerStreamsToDelete"},
		{"negative wait", func(c *Config) { c.FormerStreamLeasesWait = -time.Second }, "FormerStreamLeasesWait"},
		{"one consumer ARN for several streams", func(c *Config) {
			c.StreamName = ""
			c.Streams = []StreamConfig{{Name: "x"}, {Name: "y"}}
			c.FanOut, c.ConsumerARN = true, "arn:aws:kinesis:us-east-1:123456789012:stream/x/consumer/app:1"
		}, "ConsumerARN"},
	} {
		cfg := h.config("w1")
		tc.edit(&cfg)
		var ce *consumer.ConfigError
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: Validate = %v, want a ConfigError on %s", tc.name, err, tc.field)
		}
	}
	cfg := h.config("w1")
	cfg.StreamName = ""
	cfg.Streams = []StreamConfig{{ARN: "arn:aws:kinesis:us-east-1:999999999999:stream/cross-account"}, {Name: "local"}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("cross-account ARN: %v", err)
	}
	cfg.FanOut = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("multi-stream fan-out: %v", err)
	}
}

// leasesOf counts the leases with a key prefix.
func leasesOf(store leases.Store, prefix string) int {
	all, _ := store.List(context.Background())
	n := 0
	for _, l := range all {
		if strings.HasPrefix(l.Key, prefix+":") {
			n++
		}
	}
	return n
}

// The two deleting strategies for former streams' leases: "delete-when-gone"
// deletes only the leases of a stream that no longer exists, after the
// wait; "delete-listed" only those of listed streams. Neither touches a
// consumed stream's leases, a stream removed but still existing (when not
// listed), or a malformed key.
func TestMultiStreamFormerStreamLeaseDeletion(t *testing.T) {
	for _, strategy := range []string{formerDeleteWhenGone, formerDeleteListed} {
		t.Run(strategy, func(t *testing.T) {
			h := newHarness(t, 1)
			for _, s := range []string{"stream-b", "stream-c"} {
				if err := h.fake.CreateStream(s, 2); err != nil {
					t.Fatal(err)
				}
			}
			prefA, _ := streamPrefix(t, h.fake, h.stream)
			prefB, _ := streamPrefix(t, h.fake, "stream-b")
			prefC, _ := streamPrefix(t, h.fake, "stream-c")
			foreign := putForeignLeases(t, h.store, "bad:key")
			var tracked atomic.Pointer[[]StreamConfig]
			set := func(names ...string) {
				var l []StreamConfig
				for _, n := range names {
					l = append(l, StreamConfig{Name: n})
				}
				tracked.Store(&l)
			}
			set(h.stream, "stream-b", "stream-c")
			cfg := h.config("w1")
			cfg.StreamName = ""
			cfg.StreamTracker = func(context.Context) ([]StreamConfig, error) { return *tracked.Load(), nil }
			cfg.ShardSyncInterval = 20 * time.Millisecond
			cfg.FormerStreamLeases = strategy
			cfg.FormerStreamLeasesWait = 200 * time.Millisecond
			if strategy == formerDeleteListed {
				cfg.FormerStreamsToDelete = []string{"stream-b"}
			}
			h.start(cfg, newMSJournal().factory())
			waitFor(t, 10*time.Second, "leases of all three streams", func() bool {
				return leasesOf(h.store, prefA) == 1 && leasesOf(h.store, prefB) == 2 && leasesOf(h.store, prefC) == 2
			})
			// Both b and c stop being consumed; c is also deleted.
			set(h.stream)
			if err := h.fake.DeleteStream("stream-c"); err != nil {
				t.Fatal(err)
			}
			deleted, kept := prefC, prefB
			if strategy == formerDeleteListed {
				deleted, kept = prefB, prefC
			}
			waitFor(t, 10*time.Second, "the former stream's leases deleted", func() bool { return leasesOf(h.store, deleted) == 0 })
			n := h.fake.Calls("ListShards")
			waitFor(t, 10*time.Second, "more shard syncs", func() bool { return h.fake.Calls("ListShards") >= n+10 })
			if got := leasesOf(h.store, kept); got != 2 {
				t.Errorf("leases of %s: %d, want 2 kept", kept, got)
			}
			if got := leasesOf(h.store, prefA); got != 1 {
				t.Errorf("leases of the consumed stream: %d, want 1", got)
			}
			checkUntouched(t, h.store, foreign)
		})
	}
}

// A stream deleted while it is read: its consumers stop at the next
// stream refresh with a warning, its leases are kept (default strategy),
// and the other stream goes on.
func TestMultiStreamStreamDeletedWhileRead(t *testing.T) {
	h := newHarness(t, 1)
	if err := h.fake.CreateStream("stream-b", 1); err != nil {
		t.Fatal(err)
	}
	prefB, _ := streamPrefix(t, h.fake, "stream-b")
	j := newMSJournal()
	cfg := h.config("w1")
	cfg.StreamName = ""
	cfg.Streams = []StreamConfig{{Name: h.stream}, {Name: "stream-b"}}
	cfg.ShardSyncInterval = 20 * time.Millisecond
	h.start(cfg, j.factory())
	put := func(stream string, i int) {
		if _, _, err := h.fake.PutRecord(stream, "k", []byte(fmt.Sprintf("%s:%d", stream, i))); err != nil {
			t.Fatal(err)
		}
	}
	put(h.stream, 1)
	put("stream-b", 1)
	waitFor(t, 10*time.Second, "both streams read", func() bool { return j.delivered(h.stream+":1") && j.delivered("stream-b:1") })
	if err := h.fake.DeleteStream("stream-b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the deleted stream's consumer stopped", func() bool {
		h.sched.mu.Lock()
		defer h.sched.mu.Unlock()
		for k, c := range h.sched.consumers {
			select {
			case <-c.done:
			default:
				if strings.HasPrefix(k, prefB+":") {
					return false
				}
			}
		}
		return true
	})
	put(h.stream, 2)
	waitFor(t, 10*time.Second, "the other stream still read", func() bool { return j.delivered(h.stream + ":2") })
	n := h.fake.Calls("ListShards")
	waitFor(t, 10*time.Second, "more shard syncs", func() bool { return h.fake.Calls("ListShards") >= n+5 })
	if got := leasesOf(h.store, prefB); got != 1 {
		t.Errorf("leases of the deleted stream: %d, want 1 kept", got)
	}
}

// arnRecorder is a KinesisAPI that notes every call made without a
// StreamARN (a cross-account stream can only be reached by ARN).
type arnRecorder struct {
	*kinesistest.Fake
	mu        sync.Mutex
	without   []string
	describes int
}

func (r *arnRecorder) note(op string, arn *string) {
	if aws.ToString(arn) == "" {
		r.mu.Lock()
		r.without = append(r.without, op)
		r.mu.Unlock()
	}
}

func (r *arnRecorder) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	r.note("DescribeStreamSummary", in.StreamARN)
	r.mu.Lock()
	r.describes++
	r.mu.Unlock()
	return r.Fake.DescribeStreamSummary(ctx, in, o...)
}

func (r *arnRecorder) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if in.NextToken == nil {
		r.note("ListShards", in.StreamARN)
	}
	return r.Fake.ListShards(ctx, in, o...)
}

func (r *arnRecorder) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, o ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	r.note("GetShardIterator", in.StreamARN)
	return r.Fake.GetShardIterator(ctx, in, o...)
}

func (r *arnRecorder) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	r.note("GetRecords", in.StreamARN)
	return r.Fake.GetRecords(ctx, in, o...)
}

// A stream of another account, named by ARN: its leases carry that
// account in their keys and every Kinesis call names the stream by ARN
// (which cross-account access needs), the shard sync's included.
func TestMultiStreamCrossAccountARN(t *testing.T) {
	fake, err := kinesistest.New(kinesistest.Config{Account: "999988887777", Region: "eu-west-1", GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.CreateStream("partner", 2); err != nil {
		t.Fatal(err)
	}
	rec := &arnRecorder{Fake: fake}
	h := newHarness(t, 1)
	streamARN := "arn:aws:kinesis:eu-west-1:999988887777:stream/partner"
	j := newMSJournal()
	cfg := h.config("w1")
	cfg.StreamName = ""
	cfg.KinesisClient = rec
	cfg.Streams = []StreamConfig{{ARN: streamARN}}
	cfg.ShardSyncInterval = 20 * time.Millisecond
	stop := h.start(cfg, j.factory())
	if _, _, err := fake.PutRecord("partner", "k", []byte("partner/k:1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the other account's record", func() bool { return j.delivered("partner/k:1") })
	n := fake.Calls("ListShards")
	waitFor(t, 10*time.Second, "a dozen shard syncs", func() bool { return fake.Calls("ListShards") >= n+12 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The stream is described once per redescribeEvery refreshes, not at
	// every one.
	rec.mu.Lock()
	if refreshes := h.sched.streamRefreshes; refreshes < 12 || rec.describes > refreshes/redescribeEvery+1 {
		t.Errorf("%d DescribeStreamSummary calls over %d stream refreshes", rec.describes, refreshes)
	}
	rec.mu.Unlock()
	all, _ := h.store.List(context.Background())
	if len(all) != 2 {
		t.Fatalf("leases %v, want 2", all)
	}
	for _, l := range all {
		if !strings.HasPrefix(l.Key, "999988887777:partner:") {
			t.Errorf("lease key %q lacks the stream's account", l.Key)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.without) > 0 {
		t.Errorf("calls without StreamARN: %v", rec.without)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, in := range j.inits {
		if in.StreamARN != streamARN {
			t.Errorf("InitializationInput.StreamARN = %q", in.StreamARN)
		}
	}
}
