package kinesistest

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// iterator is what a shard iterator string carries. Callers see only an
// opaque base64 string, as from the service.
type iterator struct {
	stream      string
	incarnation uint64
	shardIndex  int
	// Position: records with counter >= pos, or, when atTime is set, the
	// first record that arrived at or after atTime. An AT_TIMESTAMP
	// iterator keeps its time until it has returned a record, so a
	// timestamp in the future does not pick up records put before it.
	pos    uint64
	atTime time.Time
	issued time.Time
}

const iteratorVersion = "v1"

func (f *Fake) encodeIterator(it iterator) string {
	at := int64(0)
	if !it.atTime.IsZero() {
		at = it.atTime.UnixMilli()
	}
	return f.seal(iteratorVersion, it.stream,
		strconv.FormatUint(it.incarnation, 10),
		strconv.Itoa(it.shardIndex),
		strconv.FormatUint(it.pos, 10),
		strconv.FormatBool(!it.atTime.IsZero()),
		strconv.FormatInt(at, 10),
		strconv.FormatInt(it.issued.UnixMilli(), 10),
	)
}

// decodeIterator parses an iterator this Fake issued; ok is false for
// anything else.
func (f *Fake) decodeIterator(s string) (it iterator, ok bool) {
	p, ok := f.unseal(s, iteratorVersion, 9)
	if !ok {
		return it, false
	}
	it.stream = p[2]
	var errs [6]error
	it.incarnation, errs[0] = strconv.ParseUint(p[3], 10, 64)
	it.shardIndex, errs[1] = strconv.Atoi(p[4])
	it.pos, errs[2] = strconv.ParseUint(p[5], 10, 64)
	hasTime, e3 := strconv.ParseBool(p[6])
	errs[3] = e3
	at, e4 := strconv.ParseInt(p[7], 10, 64)
	errs[4] = e4
	issued, e5 := strconv.ParseInt(p[8], 10, 64)
	errs[5] = e5
	for _, e := range errs {
		if e != nil {
			return iterator{}, false
		}
	}
	if hasTime {
		it.atTime = time.UnixMilli(at).UTC()
	}
	it.issued = time.UnixMilli(issued).UTC()
	return it, true
}

// GetShardIterator returns an iterator into one shard of a stream named by
// StreamName or StreamARN. Sequence numbers must come from that shard;
// positions in trimmed data read from the trim horizon. optFns are ignored.
func (f *Fake) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	const op = opGetShardIterator
	if in == nil {
		in = &kinesis.GetShardIteratorInput{}
	}
	if err := f.begin(ctx, op); err != nil {
		return nil, err
	}
	var missing []string
	if in.ShardId == nil {
		missing = append(missing, "ShardId")
	}
	if in.ShardIteratorType == "" {
		missing = append(missing, "ShardIteratorType")
	}
	if len(missing) > 0 {
		return nil, opError(op, paramRequired("GetShardIteratorInput", missing...))
	}
	if err := f.injected(op, *in.ShardId); err != nil {
		return nil, err
	}
	it, err := f.getShardIterator(in)
	if err != nil {
		return nil, opError(op, err)
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(f.encodeIterator(it))}, nil
}

func (f *Fake) getShardIterator(in *kinesis.GetShardIteratorInput) (iterator, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.resolveLocked(in.StreamName, in.StreamARN)
	if err != nil {
		return iterator{}, err
	}
	s, ok := st.byID[*in.ShardId]
	if !ok || st.expired(s) {
		return iterator{}, f.shardNotFound(st, *in.ShardId)
	}
	now := f.now()
	it := iterator{stream: st.name, incarnation: st.incarnation, shardIndex: s.index, issued: now}

	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
		it.pos = 0
	case types.ShardIteratorTypeLatest:
		// Just after the newest record: what is put from now on. On a
		// closed shard that is its end, so GetRecords reports the children.
		it.pos = f.counter + 1
		if !s.isOpen() {
			it.pos = s.endCounter + 1
		}
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		c, err := f.seqInShard(st, s, in.StartingSequenceNumber)
		if err != nil {
			return iterator{}, err
		}
		it.pos = c
		if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			it.pos = c + 1
		}
	case types.ShardIteratorTypeAtTimestamp:
		if in.Timestamp == nil {
			return iterator{}, errInvalid("Timestamp must be provided for ShardIteratorType AT_TIMESTAMP")
		}
		it.atTime = in.Timestamp.Truncate(time.Millisecond).UTC()
	default:
		return iterator{}, errInvalid("ShardIteratorType %q is not one of AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP", in.ShardIteratorType)
	}
	if !s.getIteratorCallAllowed(now, f.cfg.iteratorsPerSecond) {
		return iterator{}, errThroughput("Rate exceeded for shard %s in stream %s under account %s.", s.id, st.name, f.cfg.account)
	}
	return it, nil
}

func (s *shard) getIteratorCallAllowed(now time.Time, limit int) bool {
	return s.iteratorCalls.allow(now, limit)
}

// seqInShard validates a StartingSequenceNumber for shard s and returns its
// event counter. A number below the trim horizon is accepted (reading then
// starts at the oldest record kept); a number from another shard, another
// stream or the future is refused, as the service refuses it.
func (f *Fake) seqInShard(st *stream, s *shard, seq *string) (uint64, error) {
	v := aws.ToString(seq)
	if v == "" {
		return 0, errInvalid("StartingSequenceNumber must be provided for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER")
	}
	if !seqPattern.MatchString(v) {
		return 0, errInvalid("StartingSequenceNumber %q is not a sequence number", v)
	}
	p, ok := parseSeq(v)
	last := f.counter
	if !s.isOpen() {
		last = s.endCounter
	}
	if !ok || p.incarnation != st.incarnation || p.shardIndex != uint64(s.index) ||
		p.counter < s.startCounter || p.counter > last {
		return 0, errInvalid("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream.",
			v, s.id, st.name, f.cfg.account)
	}
	return p.counter, nil
}

// seal frames an opaque token (an iterator or a ListShards NextToken): a
// version, this Fake's tag (so tokens of another Fake are refused) and the
// fields, "|"-joined and base64-encoded.
func (f *Fake) seal(version string, fields ...string) string {
	raw := strings.Join(append([]string{version, f.tag}, fields...), "|")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// unseal opens a token sealed with version by this Fake, returning all n
// parts (version and tag included); ok is false for anything else.
func (f *Fake) unseal(s, version string, n int) (parts []string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	p := strings.Split(string(raw), "|")
	if len(p) != n || p[0] != version || p[1] != f.tag {
		return nil, false
	}
	return p, true
}
