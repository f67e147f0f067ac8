package kinesistest

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// shardFilter is a validated ShardFilter; the zero value lists every shard
// within retention (FROM_TRIM_HORIZON, the service's default).
type shardFilter struct {
	typ     types.ShardFilterType
	shardID string
	at      time.Time
}

// listToken is what a ListShards NextToken carries: the stream, the filter
// of the first call, the last shard returned and when the token was made.
type listToken struct {
	stream      string
	incarnation uint64
	filter      shardFilter
	last        string
	issued      time.Time
}

const tokenVersion = "t1"

func (f *Fake) encodeToken(t listToken) string {
	at := int64(0)
	if !t.filter.at.IsZero() {
		at = t.filter.at.UnixMilli()
	}
	return f.seal(tokenVersion, t.stream,
		strconv.FormatUint(t.incarnation, 10),
		string(t.filter.typ), t.filter.shardID,
		strconv.FormatBool(!t.filter.at.IsZero()),
		strconv.FormatInt(at, 10),
		t.last,
		strconv.FormatInt(t.issued.UnixMilli(), 10),
	)
}

func (f *Fake) decodeToken(s string) (t listToken, ok bool) {
	p, ok := f.unseal(s, tokenVersion, 10)
	if !ok {
		return t, false
	}
	t.stream = p[2]
	inc, err1 := strconv.ParseUint(p[3], 10, 64)
	hasAt, err2 := strconv.ParseBool(p[6])
	at, err3 := strconv.ParseInt(p[7], 10, 64)
	issued, err4 := strconv.ParseInt(p[9], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return listToken{}, false
	}
	t.incarnation = inc
	t.filter = shardFilter{typ: types.ShardFilterType(p[4]), shardID: p[5]}
	if hasAt {
		t.filter.at = time.UnixMilli(at).UTC()
	}
	t.last = p[8]
	t.issued = time.UnixMilli(issued).UTC()
	return t, true
}

// ListShards lists a stream's shards in shard id order, with the service's
// pagination rules: a NextToken names the stream and the filter by itself,
// so it may not be combined with StreamName, StreamARN, ShardFilter,
// ExclusiveStartShardId or StreamCreationTimestamp
// (InvalidArgumentException), and it expires after 300 s
// (ExpiredNextTokenException). Shards that closed before the trim horizon
// are never listed. optFns are ignored.
func (f *Fake) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	const op = opListShards
	if in == nil {
		in = &kinesis.ListShardsInput{}
	}
	if err := f.begin(ctx, op); err != nil {
		return nil, err
	}
	if in.ShardFilter != nil && in.ShardFilter.Type == "" {
		return nil, opError(op, paramRequired("ListShardsInput", "ShardFilter.Type"))
	}
	if err := f.injected(op, ""); err != nil {
		return nil, err
	}
	out, err := f.listShards(in)
	if err != nil {
		return nil, opError(op, err)
	}
	return out, nil
}

func (f *Fake) listShards(in *kinesis.ListShardsInput) (*kinesis.ListShardsOutput, error) {
	pageSize := defaultMaxResults
	if in.MaxResults != nil {
		m := int(*in.MaxResults)
		if m < 1 || m > maxMaxResults {
			return nil, errInvalid("MaxResults %d is outside [1, %d]", m, maxMaxResults)
		}
		pageSize = min(m, defaultMaxResults)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var (
		st     *stream
		filter shardFilter
		after  string
	)
	if tok := aws.ToString(in.NextToken); tok != "" {
		for _, clash := range []struct {
			set  bool
			name string
		}{
			{in.StreamName != nil, "StreamName"},
			{in.StreamARN != nil, "StreamARN"},
			{in.ShardFilter != nil, "ShardFilter"},
			{in.ExclusiveStartShardId != nil, "ExclusiveStartShardId"},
			{in.StreamCreationTimestamp != nil, "StreamCreationTimestamp"},
		} {
			if clash.set {
				return nil, errInvalid("NextToken and %s cannot be provided together.", clash.name)
			}
		}
		t, ok := f.decodeToken(tok)
		if !ok {
			return nil, errInvalid("NextToken is not valid.")
		}
		if now.Sub(t.issued) > nextTokenLifetime {
			return nil, errExpiredToken("The timestamp of the NextToken has expired.")
		}
		st, ok = f.streams[t.stream]
		if !ok || st.incarnation != t.incarnation {
			return nil, f.streamNotFound(t.stream)
		}
		filter, after = t.filter, t.last
	} else {
		var err error
		if st, err = f.resolveLocked(in.StreamName, in.StreamARN); err != nil {
			return nil, err
		}
		if ts := in.StreamCreationTimestamp; ts != nil && !ts.Truncate(time.Millisecond).Equal(st.createdAt) {
			return nil, errNotFound("Stream %s under account %s with creation timestamp %s not found.",
				st.name, f.cfg.account, ts.Format(time.RFC3339Nano))
		}
		if in.ShardFilter != nil && !f.cfg.ignoreShardFilter {
			if filter, err = parseShardFilter(in.ShardFilter); err != nil {
				return nil, err
			}
		}
		after = aws.ToString(in.ExclusiveStartShardId)
	}

	out := &kinesis.ListShardsOutput{Shards: []types.Shard{}}
	var last string
	more := false
	for _, s := range st.shards {
		if s.id <= after || !st.listed(s, filter) {
			continue
		}
		if len(out.Shards) == pageSize && !f.cfg.ignoreMaxResults {
			more = true
			break
		}
		out.Shards = append(out.Shards, st.sdkShard(s))
		last = s.id
	}
	if more {
		out.NextToken = aws.String(f.encodeToken(listToken{
			stream: st.name, incarnation: st.incarnation, filter: filter, last: last, issued: now,
		}))
	}
	return out, nil
}

func parseShardFilter(sf *types.ShardFilter) (shardFilter, error) {
	flt := shardFilter{typ: sf.Type}
	needID, needTime := false, false
	switch sf.Type {
	case types.ShardFilterTypeAtLatest, types.ShardFilterTypeAtTrimHorizon, types.ShardFilterTypeFromTrimHorizon:
	case types.ShardFilterTypeAfterShardId:
		needID = true
	case types.ShardFilterTypeAtTimestamp, types.ShardFilterTypeFromTimestamp:
		needTime = true
	default:
		return flt, errInvalid("ShardFilter type %q is not valid", sf.Type)
	}
	switch {
	case needID && sf.ShardId == nil:
		return flt, errInvalid("ShardFilter of type %s requires ShardId", sf.Type)
	case !needID && sf.ShardId != nil:
		return flt, errInvalid("ShardFilter of type %s does not take ShardId", sf.Type)
	case needTime && sf.Timestamp == nil:
		return flt, errInvalid("ShardFilter of type %s requires Timestamp", sf.Type)
	case !needTime && sf.Timestamp != nil:
		return flt, errInvalid("ShardFilter of type %s does not take Timestamp", sf.Type)
	}
	if needID {
		if !namePattern.MatchString(*sf.ShardId) {
			return flt, errInvalid("ShardFilter ShardId %q is not a shard id", *sf.ShardId)
		}
		flt.shardID = *sf.ShardId
	}
	if needTime {
		flt.at = sf.Timestamp.Truncate(time.Millisecond).UTC()
	}
	return flt, nil
}

// listed reports whether ListShards shows s under filter. Trim-horizon
// filters compare event counters (see stream.horizon); timestamp filters
// compare the times shards opened and closed, as the API documents them.
func (st *stream) listed(s *shard, flt shardFilter) bool {
	if st.expired(s) {
		return false
	}
	switch flt.typ {
	case types.ShardFilterTypeAtLatest:
		return s.isOpen()
	case types.ShardFilterTypeAtTrimHorizon:
		return s.startCounter <= st.horizon
	case types.ShardFilterTypeAfterShardId:
		return s.id > flt.shardID
	case types.ShardFilterTypeAtTimestamp:
		return !s.createdAt.After(flt.at) && (s.isOpen() || !s.closedAt.Before(flt.at))
	case types.ShardFilterTypeFromTimestamp:
		return s.isOpen() || !s.closedAt.Before(flt.at)
	}
	return true // FROM_TRIM_HORIZON and no filter
}
