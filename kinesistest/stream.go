package kinesistest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// namePattern is the service's pattern for stream names and shard ids.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

type stream struct {
	name        string
	arn         string
	incarnation uint64 // tells a recreated stream from its namesake
	createdAt   time.Time
	shards      []*shard // every shard ever created, in id order
	byID        map[string]*shard
	open        []*shard // open shards ordered by starting hash key
	// horizon is the trim horizon as an event counter: records below it are
	// gone, and a shard closed at or below it has expired (ListShards no
	// longer shows it). Counters rather than times, so that a test clock
	// that stands still cannot make "closed at the horizon" ambiguous.
	horizon uint64
	// Enhanced fan-out: registered consumers by name, the registration
	// rate, and the channel subscriptions wait on (see subscribe.go).
	consumers     map[string]*streamConsumer
	registerCalls ring
	changed       chan struct{}
}

type shard struct {
	id             string
	index          int
	parent         string
	adjacentParent string
	children       []string
	start, end     u128 // hash key range, inclusive
	startCounter   uint64
	endCounter     uint64 // 0 while open
	createdAt      time.Time
	closedAt       time.Time
	records        []record // ordered by counter

	// Throttling state, owned by the Fake's lock.
	getRecordsCalls ring
	iteratorCalls   ring
	readFreeAt      time.Time // when the bytes read so far are paid off
}

type record struct {
	counter uint64
	seq     string
	pk      string
	data    []byte
	arrival time.Time
}

func (s *shard) isOpen() bool { return s.endCounter == 0 }

func (s *shard) size(r *record) int { return len(r.data) + len(r.pk) }

// firstAtOrAfter returns the index of the first record whose counter is >= c.
func (s *shard) firstAtOrAfter(c uint64) int {
	return sort.Search(len(s.records), func(i int) bool { return s.records[i].counter >= c })
}

func (st *stream) expired(s *shard) bool { return !s.isOpen() && s.endCounter <= st.horizon }

func shardID(index int) string { return fmt.Sprintf("shardId-%012d", index) }

func (f *Fake) arn(name string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", f.cfg.region, f.cfg.account, name)
}

// CreateStream creates an ACTIVE stream whose shardCount shards
// (shardId-000000000000, ...) split the hash key space evenly. Creation is
// immediate; there is no CREATING phase.
func (f *Fake) CreateStream(name string, shardCount int) error {
	if !namePattern.MatchString(name) {
		return errInvalid("stream name %q does not match %s", name, namePattern)
	}
	if shardCount < 1 {
		return errInvalid("ShardCount %d must be at least 1", shardCount)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.streams[name]; ok {
		return errInUse("Stream %s under account %s already exists.", name, f.cfg.account)
	}
	f.lastIncarnation++
	c := f.nextCounterLocked()
	now := f.now()
	st := &stream{
		name:        name,
		arn:         f.arn(name),
		incarnation: f.lastIncarnation,
		createdAt:   now,
		byID:        make(map[string]*shard),
		horizon:     c,
	}
	starts := evenBoundaries(shardCount)
	for i, lo := range starts {
		hi := maxHashKey
		if i+1 < len(starts) {
			hi = starts[i+1].dec()
		}
		st.addShard(lo, hi, c, now, "", "")
	}
	f.streams[name] = st
	return nil
}

// addShard appends a new open shard with the next id.
func (st *stream) addShard(lo, hi u128, counter uint64, now time.Time, parent, adjacent string) *shard {
	s := &shard{
		id:             shardID(len(st.shards)),
		index:          len(st.shards),
		parent:         parent,
		adjacentParent: adjacent,
		start:          lo,
		end:            hi,
		startCounter:   counter,
		createdAt:      now,
	}
	st.shards = append(st.shards, s)
	st.byID[s.id] = s
	st.open = append(st.open, s)
	slices.SortFunc(st.open, func(a, b *shard) int { return a.start.cmp(b.start) })
	return s
}

// closeShard ends s at event counter c; its records stay readable.
func (st *stream) closeShard(s *shard, c uint64, now time.Time, children ...string) {
	s.endCounter = c
	s.closedAt = now
	s.children = children
	st.open = slices.DeleteFunc(st.open, func(o *shard) bool { return o == s })
	st.signalLocked()
}

// DeleteStream removes the stream and its records at once (no DELETING
// phase). Later calls naming it, and iterators into it, get
// ResourceNotFoundException, even if a stream of the same name is created
// again.
func (f *Fake) DeleteStream(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.streams[name]
	if !ok {
		return f.streamNotFound(name)
	}
	delete(f.streams, name)
	for _, sub := range f.subs {
		if sub.st == st {
			sub.endLocked(f.streamNotFound(name))
		}
	}
	return nil
}

// trim drops the records that arrived before `before`, as retention does,
// and moves the trim horizon there: TRIM_HORIZON iterators, and iterators
// positioned at trimmed records, then start at the oldest record kept, and
// closed shards all of whose data is gone expire: ListShards stops listing
// them and GetShardIterator answers ResourceNotFoundException for them.
// Trimming never moves the horizon back.
func (f *Fake) trim(streamName string, before time.Time) error {
	before = before.Truncate(time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.streams[streamName]
	if !ok {
		return f.streamNotFound(streamName)
	}
	// The new horizon is the first event (record, shard opened, shard
	// closed) that happened at or after `before`; if there is none,
	// everything so far is behind it.
	h := f.counter + 1
	for _, s := range st.shards {
		if !s.createdAt.Before(before) {
			h = min(h, s.startCounter)
		}
		if !s.isOpen() && !s.closedAt.Before(before) {
			h = min(h, s.endCounter)
		}
		for i := range s.records {
			if !s.records[i].arrival.Before(before) {
				h = min(h, s.records[i].counter)
				break
			}
		}
	}
	if h <= st.horizon {
		return nil
	}
	st.horizon = h
	for _, s := range st.shards {
		if n := s.firstAtOrAfter(h); n > 0 {
			// Copy rather than reslice so the trimmed data can be collected.
			s.records = slices.Clone(s.records[n:])
		}
	}
	return nil
}

func (f *Fake) streamNotFound(name string) error {
	return errNotFound("Stream %s under account %s not found.", name, f.cfg.account)
}

func (f *Fake) shardNotFound(st *stream, id string) error {
	return errNotFound("Shard %s in stream %s under account %s does not exist", id, st.name, f.cfg.account)
}

// resolveLocked finds the stream an API request names by StreamName,
// StreamARN or both.
func (f *Fake) resolveLocked(name, arn *string) (*stream, error) {
	n := aws.ToString(name)
	if a := aws.ToString(arn); a != "" {
		prefix := fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/", f.cfg.region, f.cfg.account)
		an, ok := strings.CutPrefix(a, prefix)
		if !ok || !namePattern.MatchString(an) {
			if strings.HasPrefix(a, "arn:") && strings.Contains(a, ":stream/") {
				// Well-formed, but another region or account.
				return nil, errNotFound("Stream %s not found.", a)
			}
			return nil, errInvalid("StreamARN %q is not a valid stream ARN", a)
		}
		if n != "" && n != an {
			return nil, errInvalid("StreamARN %s and StreamName %s do not name the same stream", a, n)
		}
		n = an
	}
	if n == "" {
		return nil, errInvalid("Either StreamName or StreamARN should be provided.")
	}
	st, ok := f.streams[n]
	if !ok {
		return nil, f.streamNotFound(n)
	}
	return st, nil
}

// sdkShard converts s to the service's shard description.
func (st *stream) sdkShard(s *shard) types.Shard {
	out := types.Shard{
		ShardId: aws.String(s.id),
		HashKeyRange: &types.HashKeyRange{
			StartingHashKey: aws.String(s.start.String()),
			EndingHashKey:   aws.String(s.end.String()),
		},
		SequenceNumberRange: &types.SequenceNumberRange{
			StartingSequenceNumber: aws.String(formatSeq(s.startCounter, st.incarnation, s.index)),
		},
	}
	if !s.isOpen() {
		out.SequenceNumberRange.EndingSequenceNumber = aws.String(formatSeq(s.endCounter, st.incarnation, s.index))
	}
	if s.parent != "" {
		out.ParentShardId = aws.String(s.parent)
	}
	if s.adjacentParent != "" {
		out.AdjacentParentShardId = aws.String(s.adjacentParent)
	}
	return out
}

// ring remembers the times of the last n accepted calls to a shard, for a
// sliding one-second rate limit.
type ring struct {
	times []time.Time
	next  int
}

// allow reports whether a call at now fits within limit calls in the last
// second, and records it if so. Refused calls are not recorded, so a caller
// that backs off gets through once the window has moved.
func (r *ring) allow(now time.Time, limit int) bool {
	if limit <= 0 {
		return true
	}
	if len(r.times) < limit {
		r.times = append(r.times, now)
		return true
	}
	// r.times[r.next] is the oldest of the last `limit` calls.
	if now.Sub(r.times[r.next]) < time.Second {
		return false
	}
	r.times[r.next] = now
	r.next = (r.next + 1) % limit
	return true
}
