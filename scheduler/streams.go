package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// StreamConfig names one stream of a multi-stream application (see
// Config.Streams and Config.StreamTracker).
type StreamConfig struct {
	// Name is the stream's name, for a stream of the caller's account.
	// One of Name and ARN is required (or both, naming the same stream).
	// Default: the name in ARN.
	Name string
	// ARN is the stream's ARN; a stream of another account must be named
	// by ARN (its resource policy must allow this worker's role; see the
	// README). Default: none (the caller's account).
	ARN string
	// InitialPosition is where a shard of this stream with no checkpoint
	// starts. Default: Config.InitialPosition.
	InitialPosition *consumer.InitialPosition
}

// streamInfo is one consumed stream as the scheduler knows it.
type streamInfo struct {
	name string
	arn  string // "" when only the name is known (single-stream mode)
	// id is the stream's multi-stream identity and prefix its lease-key
	// prefix; both are zero in single-stream mode, where a lease key is
	// the bare shard id.
	id     leasekey.Stream
	prefix string
	pos    consumer.InitialPosition
}

// leaseKey is the lease key of one of the stream's shards.
func (st *streamInfo) leaseKey(shardID string) string {
	if st.prefix == "" {
		return shardID
	}
	return st.prefix + ":" + shardID
}

// label names the stream in logs and errors.
func (st *streamInfo) label() string {
	if st.prefix != "" {
		return st.prefix
	}
	return st.name
}

// arnOrNil is the StreamARN field of a Kinesis request (nil to name the
// stream by StreamName).
func (st *streamInfo) arnOrNil() *string {
	if st.arn == "" {
		return nil
	}
	return aws.String(st.arn)
}

// nameOrNil is the StreamName field of a request that may not name the
// stream twice.
func (st *streamInfo) nameOrNil() *string {
	if st.arn != "" {
		return nil
	}
	return aws.String(st.name)
}

// streamSet is the set of streams consumed at one time. It is replaced
// as a whole (Scheduler.streams) whenever the stream list is read again.
type streamSet struct {
	multi  bool
	list   []*streamInfo
	byID   map[string]*streamInfo // multi-stream: prefix -> stream
	single *streamInfo            // single-stream mode
}

// Why a lease key is not one this worker consumes. Such a lease is never
// started, assigned, rewritten or deleted.
const (
	skipMalformed   = "malformed lease key"
	skipMultiInOne  = "multi-stream lease in a single-stream application"
	skipOneInMulti  = "single-stream lease in a multi-stream application"
	skipOtherStream = "lease of a stream this application does not consume"
	resolved        = "" // not a reason: the key resolved
)

// lookup maps a lease key to its stream and bare shard id, or says why it
// cannot.
func (set *streamSet) lookup(key string) (st *streamInfo, shardID, why string) {
	k, err := leasekey.Parse(key)
	if err != nil {
		return nil, "", skipMalformed
	}
	if !set.multi {
		if k.Multi {
			return nil, "", skipMultiInOne
		}
		return set.single, k.ShardID, resolved
	}
	if !k.Multi {
		return nil, "", skipOneInMulti
	}
	st = set.byID[k.Stream.String()]
	if st == nil {
		return nil, "", skipOtherStream
	}
	return st, k.ShardID, resolved
}

// multiStream reports whether cfg configures a multi-stream application.
func (c *Config) multiStream() bool { return len(c.Streams) > 0 || c.StreamTracker != nil }

// singleStreamSet is the stream set of a single-stream application.
func singleStreamSet(c *Config) *streamSet {
	st := &streamInfo{name: c.StreamName, arn: c.StreamARN, pos: c.InitialPosition}
	return &streamSet{single: st, list: []*streamInfo{st}}
}

// validateStreams checks a multi-stream list: each entry names a stream,
// an ARN is a Kinesis stream ARN naming the same stream, no stream twice.
func validateStreams(field string, list []StreamConfig) error {
	seen := map[string]bool{}
	for i, sc := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		name := sc.Name
		if sc.ARN != "" {
			a, err := arn.Parse(sc.ARN)
			if err != nil || a.Service != "kinesis" || !strings.HasPrefix(a.Resource, "stream/") {
				return &consumer.ConfigError{Field: f, Reason: fmt.Sprintf("%q is not a Kinesis stream ARN", sc.ARN)}
			}
			n := strings.TrimPrefix(a.Resource, "stream/")
			if name != "" && name != n {
				return &consumer.ConfigError{Field: f, Reason: fmt.Sprintf("ARN names stream %q but Name is %q", n, name)}
			}
			name = n
		}
		if !leasekey.ValidName(name) {
			return &consumer.ConfigError{Field: f, Reason: fmt.Sprintf("%q is not a valid stream name (1-128 of a-z A-Z 0-9 _ - .)", name)}
		}
		if sc.InitialPosition != nil {
			if err := sc.InitialPosition.Validate(); err != nil {
				return &consumer.ConfigError{Field: f + ".InitialPosition", Reason: err.Error()}
			}
		}
		id := sc.ARN
		if id == "" {
			id = name
		}
		if seen[id] {
			return &consumer.ConfigError{Field: f, Reason: fmt.Sprintf("stream %q is listed twice", id)}
		}
		seen[id] = true
	}
	return nil
}

// errStreamGone marks a configured stream that does not exist (never did,
// or was deleted).
var errStreamGone = errors.New("shardwise: stream does not exist")

// resolveStream describes a configured stream to learn its account and
// creation time, which make up its lease keys' prefix.
func (s *Scheduler) resolveStream(ctx context.Context, sc StreamConfig) (*streamInfo, error) {
	in := &kinesis.DescribeStreamSummaryInput{}
	label := sc.ARN
	if sc.ARN != "" {
		in.StreamARN = aws.String(sc.ARN)
	} else {
		in.StreamName = aws.String(sc.Name)
		label = sc.Name
	}
	out, err := s.kinesis.DescribeStreamSummary(ctx, in)
	switch {
	case err == nil:
	case awsapi.IsNotFound(err):
		return nil, fmt.Errorf("%w: %q: %w", errStreamGone, label, err)
	case awsapi.IsAccessDenied(err):
		return nil, fmt.Errorf("shardwise: not allowed to read stream %q (the worker needs kinesis:DescribeStreamSummary, ListShards, GetShardIterator, GetRecords; for another account's stream, its resource policy must allow them too): %w", label, err)
	default:
		return nil, fmt.Errorf("shardwise: describing stream %q: %w", label, err)
	}
	d := out.StreamDescriptionSummary
	if d == nil || d.StreamARN == nil || d.StreamCreationTimestamp == nil {
		return nil, fmt.Errorf("shardwise: describing stream %q: the response has no ARN or creation time, which multi-stream lease keys need", label)
	}
	a, err := arn.Parse(aws.ToString(d.StreamARN))
	if err != nil {
		return nil, fmt.Errorf("shardwise: stream %q: unreadable ARN %q: %w", label, aws.ToString(d.StreamARN), err)
	}
	st := &streamInfo{
		name: strings.TrimPrefix(a.Resource, "stream/"),
		arn:  aws.ToString(d.StreamARN),
		id:   leasekey.Stream{Account: a.AccountID, Name: strings.TrimPrefix(a.Resource, "stream/"), CreationEpoch: d.StreamCreationTimestamp.Unix()},
	}
	if !st.id.Valid() {
		return nil, fmt.Errorf("shardwise: stream %q: identifier %q cannot be a lease-key prefix", label, st.id)
	}
	st.prefix = st.id.String()
	st.pos = s.positionOf(sc)
	return st, nil
}

// redescribeEvery is how many stream refreshes a resolved stream is
// trusted for before it is described again.
const redescribeEvery = 5

// positionOf is a configured stream's initial position.
func (s *Scheduler) positionOf(sc StreamConfig) consumer.InitialPosition {
	if sc.InitialPosition != nil {
		return *sc.InitialPosition
	}
	return s.cfg.InitialPosition
}

func samePosition(a, b consumer.InitialPosition) bool {
	return a.Kind == b.Kind && a.Timestamp.Equal(b.Timestamp)
}

// refreshStreams reads the stream list again (Config.Streams, or
// Config.StreamTracker) and resolves each stream. A stream that does not
// exist is left out with a warning (at start, strict, it is an error);
// other errors keep the stream as it was last resolved, so a passing
// DescribeStreamSummary failure stops nothing.
func (s *Scheduler) refreshStreams(ctx context.Context, strict bool) error {
	if !s.cfg.multiStream() {
		return nil
	}
	list := s.cfg.Streams
	if s.cfg.StreamTracker != nil {
		var err error
		if list, err = s.cfg.StreamTracker(ctx); err != nil {
			return fmt.Errorf("shardwise: StreamTracker: %w", err)
		}
		if err := validateStreams("StreamTracker", list); err != nil {
			return fmt.Errorf("shardwise: StreamTracker returned an invalid list: %w", err)
		}
	}
	old := s.streams.Load()
	prev := map[string]*streamInfo{}
	if old != nil {
		for _, st := range old.list {
			prev[st.arn] = st
			prev[st.name] = st
		}
	}
	set := &streamSet{multi: true, byID: map[string]*streamInfo{}}
	s.streamRefreshes++
	if s.describedAt == nil {
		s.describedAt = map[string]int{}
	}
	for _, sc := range list {
		key := sc.ARN
		if key == "" {
			key = sc.Name
		}
		// A stream resolved recently is not described again at every
		// refresh: DescribeStreamSummary allows 20 calls a second per
		// account, shared by every worker and stream. Every
		// redescribeEvery-th refresh looks again (a stream deleted or
		// created again under its name is noticed then; its consumers
		// meanwhile back off on their own errors).
		if p := prev[key]; p != nil && s.streamRefreshes-s.describedAt[key] < redescribeEvery && samePosition(p.pos, s.positionOf(sc)) {
			if set.byID[p.prefix] == nil {
				set.list = append(set.list, p)
			}
			set.byID[p.prefix] = p
			continue
		}
		st, err := s.resolveStream(ctx, sc)
		if err == nil {
			s.describedAt[key] = s.streamRefreshes
		}
		if err != nil {
			if strict {
				return err
			}
			if errors.Is(err, errStreamGone) {
				s.warn.Warn(&s.log, "stream-gone:"+sc.Name+sc.ARN).Err(err).Msg("a configured stream does not exist; it is not consumed (its leases are left as they are)")
				continue
			}
			if p := prev[key]; p != nil {
				st = p
			} else {
				s.warn.Warn(&s.log, "stream-describe:"+key).Err(err).Msg("describing a configured stream failed; it is not consumed until it succeeds")
				continue
			}
		}
		if set.byID[st.prefix] == nil {
			set.list = append(set.list, st)
		}
		set.byID[st.prefix] = st
	}
	if old != nil {
		for _, st := range set.list {
			if old.byID[st.prefix] == nil {
				s.log.Info().Str("stream", st.label()).Msg("stream added: consuming it")
			}
		}
		for _, st := range old.list {
			if set.byID[st.prefix] == nil {
				s.log.Info().Str("stream", st.label()).Str("former_stream_leases", s.cfg.FormerStreamLeases).Msg("stream removed: its shards stop being read; its leases follow FormerStreamLeases")
			}
		}
	}
	s.streams.Store(set)
	return nil
}

// acceptsLease reports whether the lease is one this worker consumes; the
// leader plans (assigns, moves, deletes) only those.
func (s *Scheduler) acceptsLease(key string) bool {
	_, _, why := s.streams.Load().lookup(key)
	return why == resolved
}

// skipped reports leases this worker leaves untouched, one warning per
// reason per lograte interval, and a count in the UnknownLeases metric.
func (s *Scheduler) skipped(where string, byReason map[string][]string) {
	for why, keys := range byReason {
		s.unknownLeases.Add(int64(len(keys)))
		s.warn.Warn(&s.log, "skip-lease:"+where+":"+why).Str("reason", why).Int("leases", len(keys)).Str("example", keys[0]).
			Msg("leaving leases this worker does not consume untouched (never started, assigned, rewritten or deleted)")
		s.workerScope.Count(metricnames.MetricUnknownLeases, int64(len(keys)), metrics.LevelSummary)
	}
}

// stopRemovedStreams stops the consumers of streams no longer consumed:
// each finishes its batch, gets ShutdownRequested (where it may
// checkpoint) and hands its lease on or releases it; the lease itself is
// kept, and the leader does not assign it again while the stream is not
// consumed.
func (s *Scheduler) stopRemovedStreams() {
	set := s.streams.Load()
	s.mu.Lock()
	var stop []*shardConsumer
	for key, c := range s.consumers {
		if _, _, why := set.lookup(key); why != resolved {
			stop = append(stop, c)
		}
	}
	s.mu.Unlock()
	for _, c := range stop {
		c.log.Info().Str("event", "stopping").Str("reason", "its stream is no longer consumed").Msg("stopping the shard of a removed stream")
		c.requestShutdown()
	}
}
